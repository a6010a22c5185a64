"""The runtime switches: allocator, OpenMP's wait policy and binding, Adam's implementation and TensorFlow's oneDNN.

Each is a plan field that defaults to what a user gets without asking, is applied to the worker before its
framework loads, and is never required: a library that is missing makes the row unsupported, with what to install.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

import batchmark
from batchmark.engine.plan import check_plan, parse_plans
from batchmark.errors import UnknownNameError, UsageError
from batchmark.frameworks import runtime
from batchmark.plans import RUNTIME_DEFAULTS, DeviceSupport, Plan
from batchmark.results import load_results
from batchmark.server.validation import SubmissionRefused, parse_submission
from batchmark.store import open_history
from batchmark.tune.space import search_space
from tests import sample_runs

GOLDEN = Path(__file__).parent / "data" / "results-v1.json"
CPU = DeviceSupport("cpu", bf16=False, fp16=False, tf32=False, compile=True)
CUDA = DeviceSupport("cuda", bf16=True, fp16=True, tf32=True, compile=True)
JEMALLOC = runtime.available_allocators().get("jemalloc")
needs_jemalloc = pytest.mark.skipif(JEMALLOC is None, reason="libjemalloc2 is not installed here "
                                                               "(scripts/test-services.sh installs it)")


@pytest.fixture
def only_jemalloc(tmp_path, monkeypatch):
    """A machine whose only allocator library is jemalloc (an empty file: nothing here loads it)."""
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "libjemalloc.so.2").write_bytes(b"")
    monkeypatch.setenv(runtime.ALLOCATOR_DIRS_VARIABLE, str(folder))
    return folder / "libjemalloc.so.2"


@pytest.fixture
def no_allocators(tmp_path, monkeypatch):
    folder = tmp_path / "empty"
    folder.mkdir()
    monkeypatch.setenv(runtime.ALLOCATOR_DIRS_VARIABLE, str(folder))


# -- the plan ------------------------------------------------------------------------------------------------


def test_a_plan_of_before_the_runtime_switches_is_the_same_plan():
    assert Plan("torch", "cpu", "fp32", "off", False, None) == Plan()
    assert Plan().describe() == "torch cpu fp32 compile=off contiguous threads=default"
    for row in load_results(GOLDEN).rows:  # written before these switches existed
        assert {key: getattr(row.plan, key) for key in RUNTIME_DEFAULTS} == RUNTIME_DEFAULTS


def test_describe_names_only_the_runtime_switches_that_are_set():
    plan = Plan(allocator="jemalloc", omp_bind=True, optimizer="fused")
    assert plan.describe() == ("torch cpu fp32 compile=off contiguous threads=default allocator=jemalloc "
                               "omp_bind=true optimizer=fused")
    assert Plan("tensorflow", channels_last=True, onednn=False).describe().endswith("threads=default onednn=false")


def test_each_switch_parses_from_plan_values():
    (request,) = parse_plans(["allocator=tcmalloc,omp_wait=passive,omp_bind=true,optimizer=foreach,onednn=false"])
    assert dict(request.switches) == {"allocator": "tcmalloc", "omp_wait": "passive", "omp_bind": True,
                                      "optimizer": "foreach", "onednn": False}
    (request,) = parse_plans(["onednn=default"])
    assert dict(request.switches) == {"onednn": None}


@pytest.mark.parametrize("value, fragment", [
    ("allocator=jemaloc", "Did you mean 'jemalloc'? Allowed: system, jemalloc, tcmalloc."),
    ("omp_wait=spin", "Allowed: default, active, passive."),
    ("omp_bind=maybe", "Allowed: true, false."),
    ("optimizer=fast", "Allowed: default, foreach, fused."),
    ("onednn=auto", "Allowed: true, false, default."),
    ("allocater=jemalloc", "Did you mean 'allocator'?"),
])
def test_a_bad_switch_is_one_line_that_lists_what_is_allowed(value, fragment):
    with pytest.raises(UnknownNameError) as raised:
        parse_plans([value])
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize("plan, fragment", [
    (Plan("tensorflow", channels_last=True, optimizer="fused"), "optimizer=fused does not exist in tensorflow"),
    (Plan("jax", compile="xla", channels_last=True, optimizer="foreach"), "optimizer=foreach does not exist in jax"),
    (Plan("torch", onednn=False), "onednn=false does not exist in torch"),
    (Plan("jax", compile="xla", channels_last=True, onednn=True), "onednn=true does not exist in jax"),
    (Plan("tensorflow", channels_last=True, omp_wait="active"), "links no OpenMP runtime"),
    (Plan("jax", compile="xla", channels_last=True, omp_bind=True), "omp_bind=true does not exist in jax"),
])
def test_a_switch_the_framework_lacks_is_a_usage_error(plan, fragment):
    with pytest.raises(UsageError, match=fragment) as raised:
        check_plan(plan)
    assert "\n" not in str(raised.value)


def test_switches_the_framework_has_pass():
    check_plan(Plan("torch", allocator="tcmalloc", omp_wait="passive", omp_bind=True, optimizer="fused"))
    check_plan(Plan("tensorflow", channels_last=True, allocator="jemalloc", onednn=False))
    check_plan(Plan("jax", compile="xla", channels_last=True, allocator="jemalloc"))


# -- the worker's environment --------------------------------------------------------------------------------


def test_a_default_plan_leaves_the_environment_as_it_is(monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")  # the user's own, which "default" keeps
    assert runtime.worker_environment(Plan()) == dict(os.environ)


def test_openmp_and_onednn_switches_set_their_variables():
    active = runtime.worker_environment(Plan(omp_wait="active", omp_bind=True))
    assert {name: active[name] for name in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_PROC_BIND",
                                            "OMP_PLACES")} == {
        "OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "INFINITE", "KMP_BLOCKTIME": "infinite",
        "OMP_PROC_BIND": "close", "OMP_PLACES": "cores"}
    passive = runtime.worker_environment(Plan(omp_wait="passive"))
    assert (passive["OMP_WAIT_POLICY"], passive["GOMP_SPINCOUNT"], passive["KMP_BLOCKTIME"]) == ("PASSIVE", "0", "0")
    assert runtime.worker_environment(Plan("tensorflow", onednn=False))["TF_ENABLE_ONEDNN_OPTS"] == "0"
    assert runtime.worker_environment(Plan("tensorflow", onednn=True))["TF_ENABLE_ONEDNN_OPTS"] == "1"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux only")
def test_the_allocator_is_preloaded_before_what_the_user_preloads(only_jemalloc, monkeypatch):
    assert runtime.available_allocators() == {"jemalloc": only_jemalloc}
    monkeypatch.setenv("LD_PRELOAD", "/opt/mine/libhook.so")
    environment = runtime.worker_environment(Plan(allocator="jemalloc"))
    assert environment["LD_PRELOAD"] == f"{only_jemalloc}:/opt/mine/libhook.so"
    monkeypatch.delenv("LD_PRELOAD")
    assert runtime.worker_environment(Plan(allocator="jemalloc"))["LD_PRELOAD"] == str(only_jemalloc)


def test_a_missing_allocator_says_what_to_install(no_allocators):
    assert runtime.available_allocators() == {}
    environment = runtime.worker_environment(Plan(allocator="jemalloc"))
    assert environment.get("LD_PRELOAD") == os.environ.get("LD_PRELOAD")
    reason = runtime.runtime_unavailable(Plan(allocator="jemalloc"))
    assert reason.startswith("allocator=jemalloc: not available here")
    if sys.platform.startswith("linux"):
        assert "install libjemalloc2 (apt install libjemalloc2" in reason
    assert runtime.runtime_unavailable(Plan()) is None


@needs_jemalloc
def test_the_worker_check_sees_an_allocator_that_did_not_load():
    problem = runtime.not_in_effect(Plan(allocator="jemalloc"))  # pytest itself was started without it
    assert problem is not None and "is not loaded in the worker" in problem


@needs_jemalloc
def test_the_worker_environment_really_maps_jemalloc_into_the_process():
    maps = subprocess.run([sys.executable, "-c", "print(open('/proc/self/maps').read())"], text=True,
                          capture_output=True, check=True, env=runtime.worker_environment(Plan(allocator="jemalloc")))
    assert str(JEMALLOC.resolve()) in maps.stdout


# -- real rows -----------------------------------------------------------------------------------------------


def run_rows(tmp_path, plans):
    outcome = batchmark.run_suite(["tiny_cnn"], ["torch"], plans, quick=True, output=tmp_path / "run.json",
                                  report=False, database=str(tmp_path / "history.sqlite"))
    return outcome.results.rows


@needs_jemalloc
def test_a_row_runs_with_jemalloc_preloaded(tmp_path, fake_workloads):
    (row,) = run_rows(tmp_path, ["allocator=jemalloc"])
    assert row.status == "ok", row.failure
    assert row.plan.allocator == "jemalloc" and row.statistics.median > 0


def test_openmp_and_adam_switches_run_in_a_real_row(tmp_path, fake_workloads):
    (row,) = run_rows(tmp_path, ["omp_wait=passive,omp_bind=true,optimizer=fused"])
    assert row.status == "ok", row.failure
    assert (row.plan.omp_wait, row.plan.omp_bind, row.plan.optimizer) == ("passive", True, "fused")


def test_an_allocator_that_is_not_installed_is_an_unsupported_row(tmp_path, fake_workloads, no_allocators):
    (row,) = run_rows(tmp_path, ["allocator=tcmalloc"])
    assert row.status == "failed" and row.failure.kind == "unsupported"
    assert row.failure.message.startswith("allocator=tcmalloc: not available here")
    assert "\n" not in row.failure.message


# -- Adam's implementation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("implementation, flags", [
    ("default", (None, None)), ("foreach", (True, None)), ("fused", (None, True)),
])
def test_the_optimizer_switch_builds_adam_as_asked(implementation, flags, fake_workloads, monkeypatch):
    import torch

    from batchmark.frameworks.torch_backend import TorchBackend

    calls = []
    fused_adam = torch._fused_adam_
    monkeypatch.setattr(torch, "_fused_adam_", lambda *args, **kwargs: calls.append(1) or fused_adam(*args, **kwargs))
    prepared = TorchBackend().prepare("tiny_cnn", Plan(optimizer=implementation), 2, 16, 0, None)
    group = prepared.session.task.optimizer.param_groups[0]
    assert (group["foreach"], group["fused"]) == flags
    prepared.session.step()
    assert bool(calls) == (implementation == "fused")  # the fused kernel ran, and only when asked


def test_a_task_that_builds_its_own_adam_cannot_claim_the_switch(fake_workloads):
    import torch

    from batchmark.errors import Unsupported
    from batchmark.frameworks.torch_backend import TorchDevice, TorchSession
    from tests.plugins.fake_workloads import tiny_cnn_task

    task = tiny_cnn_task()  # built outside the backend: torch's own Adam
    batch = task.make_batch(2, 16, torch.Generator().manual_seed(0))
    session = TorchSession(task, Plan(optimizer="fused"), TorchDevice("cpu"), batch)
    with pytest.raises(Unsupported, match="optimizer=fused"):
        session.step()


# -- the tuner's search space --------------------------------------------------------------------------------


def changed(variant: Plan, best: Plan) -> dict:
    return {key: value for key, (value, _) in variant.differences(best).items()}


def test_runtime_variants_change_one_switch_each_and_prune_what_is_missing(only_jemalloc):
    space = search_space("torch", {"cpu": CPU}, None, 2, 2)
    assert not any(plan.runtime_switches() for plan in space.eager)  # accelerate() searches only these
    assert not any(switch.startswith("allocator") for switch, _ in space.pruned)
    best = dataclasses.replace(space.baseline, channels_last=True)
    variants = space.runtime_variants(best)
    assert [changed(variant, best) for variant in variants] == [
        {"allocator": "jemalloc"}, {"omp_wait": "active"}, {"omp_wait": "passive"}, {"omp_bind": True},
        {"optimizer": "fused"}, {"optimizer": "foreach"}]
    (reason,) = [why for switch, why in space.pruned if switch == "allocator=tcmalloc"]
    assert reason.startswith("not available here: install libtcmalloc-minimal4")
    space.runtime_variants(best)  # asked again, it says so once
    assert [switch for switch, _ in space.pruned].count("allocator=tcmalloc") == 1


def test_tensorflow_tries_onednn_the_other_way_round_from_its_own_default(no_allocators):
    with_vnni = search_space("tensorflow", {"cpu": CPU}, None, 2, 2, cpu_flags={"avx2", "avx512_vnni"})
    variants = with_vnni.runtime_variants(with_vnni.baseline)
    assert [changed(variant, with_vnni.baseline) for variant in variants] == [
        {"onednn": False if sys.platform.startswith("linux") else True}]
    assert {"allocator=jemalloc", "allocator=tcmalloc", "omp_wait, omp_bind"} <= {s for s, _ in with_vnni.pruned}
    avx2 = search_space("tensorflow", {"cpu": CPU}, None, 2, 2, cpu_flags={"avx2", "fma"})
    assert [variant.onednn for variant in avx2.runtime_variants(avx2.baseline)] == [True]


def test_on_a_gpu_only_adams_implementation_is_tried(only_jemalloc):
    space = search_space("torch", {"cpu": CPU, "cuda": CUDA}, None, 2, 2)
    best = Plan(device="cuda", precision="bf16", channels_last=True)
    assert [changed(variant, best) for variant in space.runtime_variants(best)] == [{"optimizer": "fused"}]
    assert not any(switch.startswith("allocator") for switch, _ in space.pruned)
    jax = search_space("jax", {"cpu": CPU}, None, 2, 2)
    assert [changed(v, jax.baseline) for v in jax.runtime_variants(jax.baseline)] == [{"allocator": "jemalloc"}]


# -- stored and uploaded plans -------------------------------------------------------------------------------


def with_plan(run, index: int, **switches):
    run.rows[index].plan = dataclasses.replace(run.rows[index].plan, **switches)
    return run


def test_a_plan_with_runtime_switches_round_trips_through_the_file_and_the_history(tmp_path):
    run = with_plan(sample_runs.standard_run(), 0, allocator="jemalloc", omp_wait="active", omp_bind=True,
                    optimizer="fused")
    run.write(tmp_path / "run.json")
    assert load_results(tmp_path / "run.json").rows[0].plan == run.rows[0].plan
    history = open_history(str(tmp_path / "history.sqlite"))
    try:
        assert history.import_run(run)
        assert history.load(run.run_id).rows[0].plan == run.rows[0].plan
    finally:
        history.close()


def test_the_server_checks_a_runtime_switch_rather_than_believing_it():
    run = sample_runs.standard_run()
    torch_row = next(index for index, row in enumerate(run.rows) if row.framework == "torch")
    keras_row = next(index for index, row in enumerate(run.rows) if row.framework == "tensorflow")
    accepted, _ = parse_submission(with_plan(run, torch_row, allocator="tcmalloc", optimizer="fused")
                                   .model_dump_json().encode())
    assert accepted.rows[torch_row].plan.optimizer == "fused"
    unknown = with_plan(sample_runs.standard_run(), torch_row, allocator="mimalloc")
    with pytest.raises(SubmissionRefused, match=rf"rows\.{torch_row}\.plan\.allocator"):
        parse_submission(unknown.model_dump_json().encode())
    claimed = with_plan(sample_runs.standard_run(), keras_row, optimizer="fused")
    with pytest.raises(SubmissionRefused, match="optimizer=fused does not exist in tensorflow"):
        parse_submission(claimed.model_dump_json().encode())


# -- MLX's BLAS ----------------------------------------------------------------------------------------------


@pytest.fixture
def only_openblas(tmp_path, monkeypatch):
    """A machine whose only preloadable library is Debian's pthreads OpenBLAS (an empty file)."""
    folder = tmp_path / "lib"
    (folder / "openblas-pthread").mkdir(parents=True)
    (folder / "openblas-pthread" / "libopenblas.so.0").write_bytes(b"")
    monkeypatch.setenv(runtime.ALLOCATOR_DIRS_VARIABLE, str(folder))
    return folder / "openblas-pthread" / "libopenblas.so.0"


MLX = Plan("mlx", channels_last=True)


def test_the_blas_switch_parses_and_belongs_to_mlx_alone():
    (request,) = parse_plans(["blas=openblas"])
    assert dict(request.switches) == {"blas": "openblas"}
    with pytest.raises(UnknownNameError, match="Allowed: bundled, openblas."):
        parse_plans(["blas=mkl"])
    check_plan(dataclasses.replace(MLX, blas="openblas", allocator="jemalloc"))
    with pytest.raises(UsageError, match="blas=openblas does not exist in torch"):
        check_plan(Plan(blas="openblas"))
    assert dataclasses.replace(MLX, blas="openblas").describe().endswith("blas=openblas")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="LD_PRELOAD is Linux only")
def test_openblas_is_preloaded_and_checked(only_openblas, monkeypatch):
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    plan = dataclasses.replace(MLX, blas="openblas")
    assert runtime.worker_environment(plan)["LD_PRELOAD"] == str(only_openblas)
    assert runtime.runtime_unavailable(plan) is None
    problem = runtime.not_in_effect(plan)  # an empty file nobody loaded
    assert problem.startswith("blas=openblas: ") and "is not loaded in the worker" in problem


def test_missing_openblas_says_what_to_install(no_allocators):
    reason = runtime.runtime_unavailable(dataclasses.replace(MLX, blas="openblas"))
    assert reason.startswith("blas=openblas: not available here")
    if sys.platform.startswith("linux"):
        assert "install libopenblas0-pthread" in reason
    assert runtime.runtime_unavailable(MLX) is None


def test_the_tuner_tries_openblas_for_mlx_on_a_cpu(only_openblas):
    space = search_space("mlx", {"cpu": CPU}, None, 2, 2)
    assert [changed(variant, space.baseline) for variant in space.runtime_variants(space.baseline)] == [
        {"blas": "openblas"}]
    torch_space = search_space("torch", {"cpu": CPU}, None, 2, 2)
    assert not any(variant.blas != "bundled" for variant in torch_space.runtime_variants(torch_space.baseline))


def test_the_tuner_says_why_it_cannot_try_openblas(no_allocators):
    space = search_space("mlx", {"cpu": CPU}, None, 2, 2)
    assert space.runtime_variants(space.baseline) == []
    (reason,) = [why for switch, why in space.pruned if switch == "blas=openblas"]
    assert reason.startswith("not available here")


def test_a_switch_of_one_framework_in_the_run_is_that_frameworks_row_alone():
    from batchmark.engine.plan import belongs_elsewhere

    assert belongs_elsewhere(Plan(blas="openblas"), ["torch", "mlx"])
    assert not belongs_elsewhere(Plan(blas="openblas"), ["torch", "tensorflow"])  # nobody's: still an error
    assert not belongs_elsewhere(dataclasses.replace(MLX, blas="openblas"), ["torch", "mlx"])
