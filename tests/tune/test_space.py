"""What the tuner measures and what it rules out first, with the reason stated."""

from __future__ import annotations

from batchmark.plans import DeviceSupport
from tests import sample_runs
from batchmark.tune.space import search_space

CPU = DeviceSupport("cpu", bf16=False, fp16=False, tf32=False, compile=True)
CPU_BF16 = DeviceSupport("cpu", bf16=True, fp16=False, tf32=False, compile=True)
CUDA = DeviceSupport("cuda", bf16=True, fp16=True, tf32=True, compile=True)


def test_a_precision_slower_than_fp32_by_calibration_is_not_measured_and_says_so():
    space = search_space("torch", {"cpu": CPU_BF16}, sample_runs.calibration(fp32=150e9, bf16=17e9), 2, 2)
    assert all(plan.precision == "fp32" for plan in space.eager)
    (reason,) = [why for switch, why in space.pruned if switch == "precision=bf16 on cpu"]
    assert "9x below fp32" in reason and "17.0 GFLOP/s" in reason


def test_a_precision_faster_by_calibration_is_measured_in_both_layouts():
    space = search_space("torch", {"cpu": CPU}, sample_runs.calibration(fp32=0.2e12, bf16=0.7e12), 2, 2)
    bf16 = [plan for plan in space.eager if plan.precision == "bf16"]
    assert sorted(plan.channels_last for plan in bf16) == [False, True]


def test_without_calibration_the_device_flags_decide():
    assert not any(p.precision == "bf16" for p in search_space("torch", {"cpu": CPU}, None, 2, 2).eager)
    assert any(p.precision == "bf16" for p in search_space("torch", {"cpu": CPU_BF16}, None, 2, 2).eager)


def test_the_baseline_comes_first_and_is_the_cpu_reference():
    space = search_space("torch", {"cpu": CPU}, None, 2, 2)
    assert space.eager[0] == space.baseline and space.references == [space.baseline]
    assert len(space.eager) == len(set(space.eager))


def test_threads_are_tried_only_when_there_are_more_logical_than_physical_cores():
    assert not any(p.threads for p in search_space("torch", {"cpu": CPU}, None, 2, 2).eager)
    assert any(p.threads == 4 for p in search_space("torch", {"cpu": CPU}, None, 4, 2).eager)


def test_compile_modes_per_framework_and_device():
    assert search_space("torch", {"cpu": CPU}, None, 2, 2).compile_modes == ["default"]
    assert search_space("torch", {"cpu": CPU, "cuda": CUDA}, None, 2, 2).compile_modes == ["default", "max-autotune"]
    keras = search_space("tensorflow", {"cpu": CPU}, None, 2, 2)
    assert keras.compile_modes == ["xla"] and all(plan.channels_last for plan in keras.eager)
    jax = search_space("jax", {"cpu": CPU}, None, 2, 2)
    assert jax.compile_modes == [] and any(switch == "compile" for switch, _ in jax.pruned)


def test_with_a_gpu_the_baseline_is_the_frameworks_default_and_both_devices_are_searched():
    space = search_space("torch", {"cpu": CPU, "cuda": CUDA}, None, 2, 2)
    assert space.baseline.device == "cpu"  # PyTorch tensors live on the CPU until moved
    assert {plan.device for plan in space.eager} == {"cpu", "cuda"}
    assert {plan.device for plan in space.references} == {"cpu", "cuda"}
    assert {plan.precision for plan in space.eager if plan.device == "cuda"} == {"fp32", "bf16", "fp16", "tf32"}


def test_a_transformer_is_searched_over_its_attention_kernel_and_gpt2_never_over_a_layout():
    from batchmark.workloads.registry import get_workload

    gpt2 = search_space("torch", {"cpu": CPU_BF16}, None, 2, 2, workload=get_workload("gpt2_124m"))
    assert not any(plan.channels_last for plan in gpt2.eager)
    assert any("no convolution" in reason for _, reason in gpt2.pruned)
    assert ("attention", "math") in gpt2.runtime["cpu"]
    vit = search_space("torch", {"cpu": CPU_BF16}, None, 2, 2, workload=get_workload("vit_b16"))
    assert any(plan.channels_last for plan in vit.eager)  # its patch embedding is a convolution
    resnet = search_space("torch", {"cpu": CPU_BF16}, None, 2, 2, workload=get_workload("mobilenetv3"))
    assert not any(switch == "attention" for switch, _ in resnet.runtime["cpu"])
