"""Small, exact runs for tests that read results without running a framework: every number is chosen.

`standard_run()` is the usual case: a CPU machine, two workloads, torch and tensorflow, baseline and
accelerated, one failed row and one row with a warning. `gpu_run()` is the report's: a CUDA machine whose
accelerated plans are bf16 and compiled, a warning and a failure of its own. `hostile_run()` puts markup in
every user-typed string. The row and run builders below make all three, and any run a test needs besides.
"""

from __future__ import annotations

import datetime as dt
import itertools

from batchmark.engine.stats import summarize
from batchmark.machine import CpuFingerprint, Fingerprint, GpuFingerprint, OsFingerprint
from batchmark.plans import Plan
from batchmark.results import (Calibration, Failure, Peak, ResultsFile, Row, RowWarning, WorkerOutput, apply_peaks,
                               apply_speedups)

HOSTILE = "<script>alert(1)</script>"
# Spread of a row's timed steps around its median; the 1.3 straggler makes the distribution worth a look.
STEP_SHAPE = (1.0, 0.97, 1.02, 0.99, 1.05, 1.3, 0.98)
L4 = GpuFingerprint(kind="cuda", name="NVIDIA L4", driver="550.54", memory="23034 MiB", compute_capability="8.9")
# What the worker reports of each device: its name, and what its peak memory figure measures.
DEVICES = {"cpu": ("AMD EPYC 9B45", "process peak RSS"), "cuda": ("NVIDIA L4", "CUDA max allocated")}

_run_numbers = itertools.count(1)


def fingerprint(hostname: str = "bench-01", torch_version: str = "2.13.0+cpu",
                gpus: list[GpuFingerprint] = ()) -> Fingerprint:
    return Fingerprint(
        hostname=hostname,
        cpu=CpuFingerprint(model="AMD EPYC 9B45", arch="x86_64", flags=["avx2", "fma"], physical_cores=1,
                           logical_cores=2, usable_cores=2),
        memory_bytes=25_276_063_744,
        gpus=list(gpus),
        os=OsFingerprint(system="Linux", release="6.18.44", platform="Linux-6.18.44-x86_64-with-glibc2.36"),
        python="3.11.7",
        frameworks={"torch": torch_version, "tensorflow": None, "tensorflow-cpu": "2.21.0", "keras": "3.15.1",
                    "jax": None, "jaxlib": None},
        batchmark="0.1.0",
    )


def make_plan(framework: str = "torch", **switches) -> Plan:
    """The default plan but for `switches`; NHWC unless PyTorch, as Keras always is."""
    return Plan(framework=framework, **{"channels_last": framework != "torch", **switches})


def gpu_plan(framework: str, plan_label: str) -> Plan:
    """On gpu_run's machine: baseline is the default plan, any other label bf16 and compiled on CUDA."""
    if plan_label == "baseline":
        return make_plan(framework)
    return make_plan(framework, device="cuda", precision="bf16", compile="default" if framework == "torch" else "xla",
                     channels_last=True)


def steps_around(median: float) -> list[float]:
    return [median * factor for factor in STEP_SHAPE]


def ok_row(workload: str, framework: str, plan_label: str, step_seconds: list[float], *, plan: Plan | None = None,
           batch_size: int = 32, image_size: int = 224, precision: str = "fp32", threads: int | None = None,
           train_flops: float = 20.65e9, warnings: list[tuple[str, str]] = (), losses: list[float] | None = None,
           framework_version: str = "2.13.0+cpu", compile_seconds: float | None = None) -> Row:
    """A measured row whose statistics are really those of its step_seconds, as the runner writes them."""
    plan = plan or make_plan(framework, precision=precision, threads=threads)
    device_name, memory_kind = DEVICES.get(plan.device, DEVICES["cpu"])
    statistics = summarize(step_seconds)
    measured = WorkerOutput(
        setup_seconds=1.5, warmup_seconds=[step_seconds[0] * 3, step_seconds[0] * 1.1], step_seconds=step_seconds,
        losses=losses if losses is not None else [2.3 - 0.01 * index for index in range(len(step_seconds))],
        peak_memory_bytes=3 * 2**30, memory_kind=memory_kind, forward_flops_per_sample=train_flops / 3,
        train_flops_per_sample=train_flops, device_name=device_name, framework_version=framework_version,
        threads=threads or 2,
    )
    return Row(workload=workload, framework=framework, plan_label=plan_label, plan=plan, batch_size=batch_size,
               image_size=image_size, status="ok", measured=measured, statistics=statistics,
               warnings=[RowWarning(code=code, message=message) for code, message in warnings],
               samples_per_second=batch_size / statistics.median, compile_seconds=compile_seconds)


def failed_row(workload: str, framework: str, plan_label: str, kind: str = "oom",
               message: str = "worker killed by SIGKILL: most likely the kernel's out-of-memory killer", *,
               plan: Plan | None = None) -> Row:
    return Row(workload=workload, framework=framework, plan_label=plan_label, plan=plan or make_plan(framework),
               batch_size=32, image_size=224, status="failed", failure=Failure(kind=kind, message=message))


def run(rows: list[Row], *, hostname: str = "bench-01", run_id: str | None = None,
        started_at: dt.datetime | None = None, profile: str = "standard", torch_version: str = "2.13.0+cpu",
        calibration: Calibration | None = None, machine: Fingerprint | None = None) -> ResultsFile:
    """The rows as one run writes them, speedups and % of peak derived (each run a minute after the last)."""
    number = next(_run_numbers)
    started = started_at or dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=number)
    apply_speedups(rows)
    results = ResultsFile(
        batchmark_version="0.1.0", run_id=run_id or f"{started:%Y%m%dT%H%M%SZ}-{number:06x}",
        command=["batchmark", "run"], profile=profile, started_at=started.isoformat(),
        finished_at=(started + dt.timedelta(minutes=30)).isoformat(),
        machine=machine or fingerprint(hostname, torch_version), rows=rows, calibration=calibration,
    )
    apply_peaks(results)
    return results


def calibration(fp32: float = 0.2e12, bf16: float = 0.7e12) -> Calibration:
    return Calibration(fingerprint="f" * 64, framework="torch", framework_version="2.13.0+cpu",
                       measured_at="2026-11-28T12:00:00+00:00", seconds=12.5, peaks=[
                           Peak(device="cpu", precision="fp32", flops_per_second=fp32, operation="matmul 2048",
                                by_operation={"matmul 2048": fp32, "conv3x3": fp32 * 0.9}),
                           Peak(device="cpu", precision="bf16", flops_per_second=bf16, operation="conv3x3",
                                by_operation={"matmul 2048": bf16 * 0.5, "conv3x3": bf16}),
                       ])


def standard_run(step_factor: float = 1.0, device: str = "cpu", **options) -> ResultsFile:
    """Two workloads, two frameworks, baseline and accelerated; one row failed, one with a warning.

    `step_factor` scales every step time and `device` moves every plan: the same suite on another machine."""

    def row(workload, framework, plan_label, step_seconds, **measured):
        return ok_row(workload, framework, plan_label, [step * step_factor for step in step_seconds],
                      plan=make_plan(framework, device=device), **measured)

    return run([
        row("resnet50v2_finetune", "torch", "baseline", [9.9, 10.1, 9.8, 10.4, 10.0, 9.95]),
        row("resnet50v2_finetune", "torch", "accelerated", [8.3, 8.2, 8.4, 8.25, 8.35, 8.3], train_flops=20.65e9,
            warnings=[("outliers", "1 of 6 steps is an outlier (modified Z-score > 3.5): rerun on a quieter machine")]),
        row("mobilenetv3", "torch", "baseline", [2.5, 2.6, 2.55, 2.58, 2.52], train_flops=1.29e9),
        failed_row("mobilenetv3", "torch", "accelerated", plan=make_plan("torch", device=device)),
        row("mobilenetv3", "tensorflow", "baseline", [2.9, 2.95, 2.88, 3.0, 2.91], train_flops=1.29e9,
            framework_version="2.21.0"),
        row("mobilenetv3", "tensorflow", "accelerated", [16.3, 16.4, 15.9, 16.5, 16.36], train_flops=1.29e9,
            framework_version="2.21.0"),
    ], **{"calibration": calibration(), **options})


def gpu_row(workload: str, framework: str, plan_label: str, median: float,
            warnings: list[tuple[str, str]] = ()) -> Row:
    """A row of gpu_run's machine: steps spread around `median`, and the compile time of a compiled plan."""
    plan = gpu_plan(framework, plan_label)
    return ok_row(workload, framework, plan_label, steps_around(median), plan=plan, train_flops=1.23e10,
                  warnings=warnings, framework_version="2.13.0",
                  compile_seconds=None if plan.compile == "off" else median * 7)


def gpu_rows(scale: float = 1.0) -> list[Row]:
    """Baseline first in each (workload, framework), as the runner orders them; `scale` makes a slower machine."""
    return [
        gpu_row("mobilenetv3", "torch", "baseline", 0.080 * scale),
        gpu_row("mobilenetv3", "torch", "accelerated", 0.050 * scale),
        gpu_row("mobilenetv3", "tensorflow", "baseline", 0.095 * scale,
                warnings=[("high_dispersion", "step times vary by 12% (CV > 10%): close other programs, "
                                              "pin --plan threads=N, or run more steps")]),
        gpu_row("mobilenetv3", "tensorflow", "accelerated", 0.110 * scale),
        gpu_row("densenet121", "torch", "baseline", 0.310 * scale),
        gpu_row("densenet121", "torch", "accelerated", 0.190 * scale),
        gpu_row("densenet121", "tensorflow", "baseline", 0.350 * scale),
        failed_row("densenet121", "tensorflow", "accelerated", message="CUDA out of memory: tried to allocate 2.00 GiB",
                   plan=gpu_plan("tensorflow", "accelerated")),
    ]


def gpu_run(hostname: str = "bench-1", run_id: str = "20261128T142555Z-c20823", scale: float = 1.0,
            rows: list[Row] | None = None) -> ResultsFile:
    return run(gpu_rows(scale) if rows is None else rows, run_id=run_id,
               machine=fingerprint(hostname, torch_version="2.13.0", gpus=[L4.model_copy()]))


def hostile_run() -> ResultsFile:
    """Markup in the hostname, a plan label, a warning message and a failure message."""
    rows = [
        gpu_row("mobilenetv3", "torch", "baseline", 0.08),
        gpu_row("mobilenetv3", "torch", HOSTILE, 0.05, warnings=[("outliers", f"1 outlier step {HOSTILE}")]),
        failed_row("densenet121", "torch", "baseline", kind="crash", message=f"worker said {HOSTILE}"),
    ]
    return gpu_run(hostname=HOSTILE, run_id="20261128T150000Z-hostil", rows=rows)
