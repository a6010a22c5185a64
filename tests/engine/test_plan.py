import pytest

from batchmark.errors import Unsupported, UsageError
from batchmark.plans import DeviceSupport, Plan, supported_device
from batchmark.engine.plan import accelerated, baseline, check_plan, parse_plans
from batchmark.errors import UnknownNameError

CPU_BF16 = DeviceSupport("cpu", bf16=True, fp16=False, tf32=False, compile=True)
CPU_PLAIN = DeviceSupport("cpu", bf16=False, fp16=False, tf32=False, compile=True)
CUDA = DeviceSupport("cuda", bf16=True, fp16=True, tf32=True, compile=True)
MPS = DeviceSupport("mps", bf16=False, fp16=True, tf32=False, compile=False)


def test_baseline_is_the_plain_framework():
    (request,) = parse_plans(["baseline"])
    assert request.resolve("torch", CUDA, None)[0] == Plan("torch", "cpu", "fp32", "off", False, None)


@pytest.mark.parametrize("device, precision, compile_mode", [
    (CPU_BF16, "bf16", "default"), (CPU_PLAIN, "fp32", "default"), (CUDA, "bf16", "default"), (MPS, "fp16", "off"),
])
def test_accelerated_uses_what_the_device_supports(device, precision, compile_mode):
    plan = accelerated("torch", device)
    assert (plan.device, plan.precision, plan.compile, plan.channels_last) == (
        device.name, precision, compile_mode, True)


@pytest.mark.parametrize("framework, device, compile_mode", [
    ("tensorflow", CPU_PLAIN, "off"),  # Keras's jit_compile="auto": no XLA on a CPU-only TensorFlow
    ("tensorflow", CUDA, "xla"),  # ... but XLA as soon as there is a GPU
    ("jax", CPU_PLAIN, "xla"),  # JAX always jits
])
def test_keras_baseline_is_what_model_compile_gives(framework, device, compile_mode):
    plan = baseline(framework, device)
    assert (plan.device, plan.precision, plan.compile, plan.channels_last) == (device.name, "fp32", compile_mode, True)


@pytest.mark.parametrize("framework", ["tensorflow", "jax"])
@pytest.mark.parametrize("device, precision, compile_mode", [
    (CPU_BF16, "bf16", "xla"), (CPU_PLAIN, "fp32", "xla"), (CUDA, "bf16", "xla"),
])
def test_keras_accelerated_switches_on_xla_and_mixed_precision(framework, device, precision, compile_mode):
    plan = accelerated(framework, device)
    assert (plan.precision, plan.compile) == (precision, compile_mode)


def test_tensorflow_on_metal_stays_without_xla():
    assert accelerated("tensorflow", MPS).compile == "off"


@pytest.mark.parametrize("plan, fragment", [
    (Plan("torch", compile="xla"), "compile=xla does not exist in torch"),
    (Plan("tensorflow", compile="default", channels_last=True), "Allowed there: off, xla"),
    (Plan("jax", compile="off", channels_last=True), "does not exist in jax"),
    (Plan("tensorflow", compile="off", channels_last=False), "NHWC only"),
])
def test_switches_a_framework_lacks_are_usage_errors(plan, fragment):
    with pytest.raises(UsageError, match=fragment):
        check_plan(plan)


def test_named_list():
    assert [r.label for r in parse_plans(["baseline,accelerated"])] == ["baseline", "accelerated"]


def test_switches_start_from_baseline_unless_a_plan_is_named():
    (plain,) = parse_plans(["precision=bf16,compile=off"])
    assert plain.resolve("torch", CPU_BF16, None)[0] == Plan(precision="bf16")
    (ablation,) = parse_plans(["accelerated,compile=off"])
    assert ablation.resolve("torch", CPU_BF16, None)[0] == Plan(
        device="cpu", precision="bf16", compile="off", channels_last=True)


def test_every_switch_parses():
    (request,) = parse_plans(["device=cpu,precision=fp16,compile=max-autotune,channels_last=true,threads=1"])
    assert request.resolve("torch", CPU_PLAIN, None)[0] == Plan("torch", "cpu", "fp16", "max-autotune", True, 1)


def test_device_override_applies_before_switches():
    (request,) = parse_plans(["baseline"])
    assert request.resolve("torch", CUDA, "cuda")[0].device == "cuda"


@pytest.mark.parametrize("value, fragment", [
    ("fastest", "unknown plan 'fastest'"),
    ("precision=fp8", "unknown precision 'fp8'"),
    ("colour=red", "unknown plan switch 'colour'"),
    ("threads=0", "threads"),
    ("channels_last=maybe", "boolean"),
    ("baseline,accelerated,compile=off", "at most one named plan"),
    ("compile=fast", "unknown compile mode 'fast'"),
    ("baseline,allocator=jemalloc,allocator=tcmalloc", "sets allocator twice"),  # once ran tcmalloc alone, silently
])
def test_bad_plans_are_refused_with_what_is_allowed(value, fragment):
    with pytest.raises(UnknownNameError, match=fragment):
        parse_plans([value])


def test_close_matches_are_suggested():
    with pytest.raises(UnknownNameError, match="Did you mean 'accelerated'"):
        parse_plans(["accelerate"])


def test_describe_names_every_switch():
    text = Plan("torch", "cuda", "bf16", "default", True, 4).describe()
    assert text == "torch cuda bf16 compile=default channels_last threads=4"


def test_a_device_or_precision_the_framework_lacks_here_is_unsupported():
    assert supported_device(Plan("torch", precision="tf32", device="cuda"), [CPU_PLAIN, CUDA], "torch") == CUDA
    with pytest.raises(Unsupported, match="device 'cuda' is not available to JAX here \\(available: cpu\\)"):
        supported_device(Plan("jax", device="cuda"), [CPU_PLAIN], "JAX")
    with pytest.raises(Unsupported, match="tf32 needs an Ampere"):
        supported_device(Plan("tensorflow", precision="tf32"), [CPU_PLAIN], "TensorFlow")
