"""What the tuner may try for one framework on this machine, and what it rules out before measuring.

Pruning by knowledge is stated, never silent: every switch left out is listed with its reason, and the
reasons are measurements where one exists (a precision whose calibrated peak is below fp32's here cannot
make a step faster; it is not worth minutes of a 90x slower step to show it again).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Collection, Iterable

from batchmark.plans import RUNTIME_DEFAULTS, DeviceSupport, Plan
from batchmark.engine.plan import baseline
from batchmark.frameworks import get_framework
from batchmark.frameworks.runtime import (SWITCH_FRAMEWORKS, WHY_NOT, allocator_unavailable, blas_unavailable,
                                          tensorflow_onednn_default)
from batchmark.machine import cpu_info
from batchmark.results import Calibration
from batchmark.workloads.registry import Workload

# The runtime switches that change which kernels or which allocator a step runs: measured before the compiles,
# whose cold cost (30-80 s here) would otherwise spend a budget first. tcmalloc gained 1.06-1.45x on every CNN
# here, and went untried in every cold search while the compiles were measured first. The rest (OpenMP's wait
# policy and binding, Adam's implementation, the attention kernel) come after the compiles: on 2 cores they were
# level with the default or slower on every workload (0.61-1.05x).
KERNEL_SWITCHES = frozenset({"allocator", "onednn", "blas"})
LATER_SWITCHES = frozenset(RUNTIME_DEFAULTS) - KERNEL_SWITCHES

# Reduced precisions each framework can run, per device kind: autocast in torch, Keras mixed-precision policies.
REDUCED_PRECISIONS = {"cpu": ("bf16",), "cuda": ("bf16", "fp16", "tf32"), "mps": ("fp16",)}


@dataclass
class SearchSpace:
    baseline: Plan
    eager: list[Plan]  # uncompiled variants, the baseline first
    references: list[Plan]  # per device, the fp32 eager plan that the numerics guard compares against
    compile_modes: list[str]  # tried on the best eager plan only
    pruned: list[tuple[str, str]] = field(default_factory=list)  # (switch, why it is not measured)
    # Per device, the runtime switches to try one at a time on the best plan, as (switch, value), and those that
    # cannot be tried here, with the reason: they join `pruned` when the tuner asks for the variants of a plan
    # on that device (accelerate() never does: it runs in the user's process, whose environment is set).
    runtime: dict[str, list[tuple[str, object]]] = field(default_factory=dict)
    runtime_pruned: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def compiled(self, best_eager: Plan) -> list[Plan]:
        return [dataclasses.replace(best_eager, compile=mode) for mode in self.compile_modes
                if mode != best_eager.compile]

    def runtime_variants(self, best: Plan, switches: Collection[str] = frozenset(RUNTIME_DEFAULTS)) -> list[Plan]:
        """The best plan with each runtime switch of `switches` changed on its own (an allocator,
        OpenMP's wait policy or binding, Adam's implementation, oneDNN); what cannot be tried here is added to
        `pruned` with its reason."""
        for line in self.runtime_pruned.get(best.device, []):
            if line not in self.pruned:
                self.pruned.append(line)
        variants = [dataclasses.replace(best, **{switch: value}) for switch, value in self.runtime.get(best.device, [])
                    if getattr(best, switch) != value and switch in switches]
        return list(dict.fromkeys(variants))


def _gflops(value: float) -> str:
    return f"{value / 1e9:.1f} GFLOP/s"


def precision_is_fast(device: DeviceSupport, precision: str, calibration: Calibration | None,
                      pruned: list[tuple[str, str]]) -> bool:
    """Whether a reduced precision can pay off on `device`, by its calibrated peak against fp32's."""
    if calibration is not None:
        fast, fp32 = calibration.peak(device.name, precision), calibration.peak(device.name, "fp32")
        if fast is not None and fp32 is not None:
            if fast.flops_per_second < fp32.flops_per_second:
                pruned.append((f"precision={precision} on {device.name}",
                               f"calibrated peak {_gflops(fast.flops_per_second)} is "
                               f"{fp32.flops_per_second / fast.flops_per_second:.0f}x below fp32's "
                               f"{_gflops(fp32.flops_per_second)}: no {precision} arithmetic in hardware"))
                return False
            return True
    supported = {"bf16": device.bf16, "fp16": device.fp16, "tf32": device.tf32}[precision]
    if not supported:
        pruned.append((f"precision={precision} on {device.name}", f"{device.name} has no {precision} in hardware"))
    return supported


def runtime_candidates(framework: str, device: str, cpu_flags: Iterable[str] | None,
                       pruned: list[tuple[str, str]]) -> list[tuple[str, object]]:
    """The runtime switches worth trying for `framework` on `device`, as (switch, value); those ruled out go to
    `pruned`. On a GPU only Adam's implementation changes the step: the rest is the host's business."""
    def applies(switch: str) -> bool:
        return framework in SWITCH_FRAMEWORKS[switch]

    switches: list[tuple[str, object]] = []
    if device == "cpu":
        # tcmalloc first: a budget that runs out should have measured the allocator that gained 1.06-1.45x on every
        # CNN here, not the one that lost 1.6-2.5x.
        for allocator in ("tcmalloc", "jemalloc"):
            if (reason := allocator_unavailable(allocator)) is None:
                switches.append(("allocator", allocator))
            else:
                pruned.append((f"allocator={allocator}", reason))
        if applies("omp_wait"):
            switches += [("omp_wait", "active"), ("omp_wait", "passive"), ("omp_bind", True)]
        else:
            pruned.append(("omp_wait, omp_bind", f"{framework}: {WHY_NOT['omp_wait']}"))
        if applies("onednn"):
            flags = set(cpu_info().flags if cpu_flags is None else cpu_flags)
            switches.append(("onednn", not tensorflow_onednn_default(flags)))  # the other side of its own choice
        if applies("blas"):
            if (reason := blas_unavailable("openblas")) is None:
                switches.append(("blas", "openblas"))
            else:
                pruned.append(("blas=openblas", reason))
    if applies("optimizer"):
        switches.append(("optimizer", "fused"))
        if device == "cuda":  # torch's own choice there: the same plan
            pruned.append(("optimizer=foreach on cuda", "torch already runs Adam with foreach kernels on CUDA"))
        else:
            switches.append(("optimizer", "foreach"))
    return switches


def search_space(framework: str, devices: dict[str, DeviceSupport], calibration: Calibration | None,
                 logical_cores: int, physical_cores: int, cpu_flags: Iterable[str] | None = None,
                 workload: Workload | None = None) -> SearchSpace:
    """Every plan worth measuring for `framework` here, device by device (CUDA, MPS, then CPU). `cpu_flags`
    (this machine's, when None) tell which way TensorFlow sets oneDNN by itself. The `workload`'s spec, when
    given, drops switches that cannot change its step (a layout without convolutions) and adds its own
    (the attention kernel); without it, the space is a convolutional network's (accelerate() on a user's model)."""
    default_device = next(devices[name] for name in ("cuda", "mps", "cpu") if name in devices)
    plain = baseline(framework, default_device)
    pruned: list[tuple[str, str]] = []
    eager, references = [plain], []
    record = get_framework(framework)
    for name in ("cuda", "mps", "cpu"):
        if name not in devices:
            continue
        device = devices[name]
        reference = dataclasses.replace(baseline(framework, device), device=name)
        references.append(reference)
        layouts = (True,) if record.nhwc_only else (False, True)
        if workload is not None and not workload.convolutional and not record.nhwc_only:
            layouts = (False,)
            pruned.append((f"channels_last on {name}", f"{workload.name} has no convolution: the layout changes "
                                                       f"no kernel"))
        eager += [dataclasses.replace(reference, channels_last=layout) for layout in layouts]
        for precision in REDUCED_PRECISIONS[name]:
            if precision == "tf32" and not record.tf32_switch:
                continue
            if precision_is_fast(device, precision, calibration, pruned):
                eager += [dataclasses.replace(reference, precision=precision, channels_last=layout)
                          for layout in layouts]
        if name == "cpu":
            if logical_cores > physical_cores and record.threads_switch:
                eager.append(dataclasses.replace(reference, channels_last=True, threads=logical_cores))
            else:
                pruned.append(("threads", f"the framework's default already uses all {physical_cores} cores, "
                                          f"and fewer threads were 1.5-1.8x slower when measured on such a CPU"))
    compile_modes = []
    for mode in record.tuner_compile_modes:
        if not any(device.compile for device in devices.values()):
            pruned.append((f"compile={mode}", "no compiler toolchain here"))
        elif mode == "max-autotune" and "cuda" not in devices:
            pruned.append(("compile=max-autotune", "on a CPU it benchmarks C++ GEMM templates while compiling: "
                                                   "minutes per model, past any tuning budget; measure it with "
                                                   "`batchmark run --plan compile=max-autotune`"))
        else:
            compile_modes.append(mode)
    if "off" not in record.compile_modes:
        pruned.append(("compile", f"{framework} always compiles ({', '.join(record.compile_modes)}): there is no "
                                  f"eager plan to compare"))
    eager = list(dict.fromkeys(eager))  # the baseline is also a device's fp32 plan
    runtime, runtime_pruned = {}, {}
    for name in devices:
        runtime_pruned[name] = []
        runtime[name] = runtime_candidates(framework, name, cpu_flags, runtime_pruned[name])
        if workload is not None and workload.has_attention:
            runtime[name].append(("attention", "math"))  # the other side of the fused kernel users call today
    return SearchSpace(baseline=plain, eager=eager, references=references, compile_modes=compile_modes,
                       pruned=pruned, runtime=runtime, runtime_pruned=runtime_pruned)
