"""A plan is every switch that can change how fast one training step goes; this module says which exist.

Resolving a named plan (baseline, accelerated, tuned) against a machine is the engine's work
(`batchmark.engine.plan`), and which compile modes a framework has is its record's (`batchmark.frameworks`);
here is only the vocabulary every layer shares. `compile` is "off" (eager PyTorch or MLX, a plain tf.function
graph), a torch.compile mode ("default" is also mx.compile on MLX), or "xla" (jit_compile=True on TensorFlow,
jax.jit on JAX).

The runtime switches (allocator, OpenMP's wait policy and binding, PyTorch's Adam implementation, TensorFlow's
oneDNN, MLX's BLAS) default to what a user gets without asking, so that a plan written before they existed still
means the same; `batchmark.frameworks.runtime` applies them to a worker before its framework loads.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from batchmark.errors import Unsupported

DEVICES = ("cpu", "cuda", "mps")
PRECISIONS = ("fp32", "bf16", "fp16", "tf32")
ALLOCATORS = ("system", "jemalloc", "tcmalloc")  # malloc as the C library has it, or one preloaded in its place
OMP_WAIT_POLICIES = ("default", "active", "passive")  # how idle OpenMP threads wait: the runtime's own, spin, sleep
OPTIMIZERS = ("default", "foreach", "fused")  # how torch.optim.Adam runs its update
# How a transformer computes attention: the framework's fused kernel (torch's scaled_dot_product_attention, Keras's
# ops.dot_product_attention, each picking flash or memory-efficient kernels where the device has them), or the plain
# math a paper writes (softmax(QK^T/sqrt(d) + mask) V) as separate ops. Models without attention ignore it.
ATTENTIONS = ("fused", "math")
# Which BLAS MLX's CPU kernels call on Linux: the reference BLAS its mlx[cpu] wheel bundles, or Debian's OpenBLAS
# (libopenblas0-pthread) preloaded in front of it, 25-30x faster on a matmul here (issue 19).
BLAS_LIBRARIES = ("bundled", "openblas")
# Each runtime switch and its default, which describe() leaves out: what a user gets without asking.
RUNTIME_DEFAULTS = {"allocator": "system", "omp_wait": "default", "omp_bind": False, "optimizer": "default",
                    "onednn": None, "attention": "fused", "blas": "bundled"}
SWITCHES = ("device", "precision", "compile", "channels_last", "threads", *RUNTIME_DEFAULTS)
# Where a named plan came from: "static" (every switch the device supports, assumed rather than measured),
# "tuned" (measured fastest by `batchmark tune`, or by an earlier run, on this machine, and cached) or "screened"
# (measured fastest by short trials in this very run). Plans named switch by switch have none.
PlanSource = Literal["static", "tuned", "screened"]


@dataclass(frozen=True)
class Plan:
    framework: str = "torch"
    device: str = "cpu"  # the framework's default device: what a user gets without asking
    precision: str = "fp32"  # fp32 means true fp32: TF32 is switched off unless precision=tf32
    compile: str = "off"
    channels_last: bool = False  # NHWC: torch's channels_last memory format; always so in Keras
    threads: int | None = None  # None: the framework's own default (all physical cores)
    # The runtime switches: set in a worker's environment or before its first step, and never required: a
    # library that is not installed makes the row unsupported, never a different plan under the same name.
    allocator: str = "system"  # "jemalloc" or "tcmalloc": preloaded with LD_PRELOAD (Linux only)
    omp_wait: str = "default"  # OMP_WAIT_POLICY; "default" leaves the OpenMP runtime's own (spin a while, then sleep)
    omp_bind: bool = False  # OMP_PROC_BIND=close, OMP_PLACES=cores: one thread per core, kept there
    optimizer: str = "default"  # PyTorch only: Adam as torch picks it (a loop per tensor on CPU, foreach on CUDA)
    onednn: bool | None = None  # TensorFlow only: TF_ENABLE_ONEDNN_OPTS; None: TensorFlow decides by the CPU
    attention: str = "fused"  # transformers only: the fused kernel, as a user calls it today, or the plain math
    blas: str = "bundled"  # MLX only: its wheel's own BLAS, or OpenBLAS preloaded with LD_PRELOAD (Linux only)

    def describe(self) -> str:
        threads = "default" if self.threads is None else str(self.threads)
        layout = "channels_last" if self.channels_last else "contiguous"
        runtime = "".join(f" {key}={str(value).lower() if isinstance(value, bool) else value}"
                          for key, value in self.runtime_switches().items())
        return (f"{self.framework} {self.device} {self.precision} compile={self.compile} "
                f"{layout} threads={threads}{runtime}")

    def runtime_switches(self) -> dict[str, object]:
        """The runtime switches this plan sets away from their defaults, as `--plan` names them."""
        return {key: getattr(self, key) for key, default in RUNTIME_DEFAULTS.items() if getattr(self, key) != default}

    def as_dict(self) -> dict:
        # Every field is a plain value, so a shallow copy is dataclasses.asdict's answer without its deep copy, which
        # was a tenth of the leaderboard's CPU time for a submission.
        return {name: getattr(self, name) for name in PLAN_FIELDS}

    def differences(self, other: Plan) -> dict[str, tuple[object, object]]:
        """The switches whose values differ: {name: (this plan's, the other's)}."""
        mine, theirs = self.as_dict(), other.as_dict()
        return {key: (mine[key], theirs[key]) for key in mine if mine[key] != theirs[key]}


PLAN_FIELDS = tuple(field.name for field in dataclasses.fields(Plan))


@dataclass(frozen=True)
class DeviceSupport:
    """What a device offers; each framework's backend reports it for the devices it can use here."""

    name: str
    bf16: bool  # fast bf16 in hardware (AVX-512 BF16 / AMX on CPU, Ampere+ on CUDA)
    fp16: bool
    tf32: bool
    compile: bool


def supported_device(plan: Plan, devices: list[DeviceSupport], framework_label: str) -> DeviceSupport:
    """The plan's device among those a framework reports here; raises Unsupported for what none can run."""
    support = {device.name: device for device in devices}
    if plan.device not in support:
        raise Unsupported(f"device '{plan.device}' is not available to {framework_label} here "
                          f"(available: {', '.join(support)})")
    if plan.precision == "tf32" and not support[plan.device].tf32:
        raise Unsupported(f"tf32 needs an Ampere or newer CUDA GPU; '{plan.device}' has none")
    return support[plan.device]
