"""Small, hand-made results files for tests that read results: no framework, no worker, no clock.

`sample_run()` is the usual case: two workloads × torch and tensorflow × baseline and accelerated, with one
failed row and one row that carries a warning. `hostile_run()` puts markup in every user-typed string.
"""

from __future__ import annotations

from batchmark.plans import Plan
from batchmark.engine.stats import summarize
from batchmark.results import Failure, ResultsFile, Row, RowWarning, WorkerOutput

HOSTILE = "<script>alert(1)</script>"
# Spread of the timed steps around the median; the 1.3 straggler makes the distribution worth a look.
STEP_SHAPE = (1.0, 0.97, 1.02, 0.99, 1.05, 1.3, 0.98)


def machine(hostname: str = "bench-1") -> dict:
    """A fingerprint in the shape batchmark.machine.fingerprint() returns."""
    return {
        "hostname": hostname,
        "cpu": {"model": "AMD EPYC 9454", "arch": "x86_64", "flags": ["avx2", "fma", "avx512f"],
                "physical_cores": 16, "logical_cores": 32, "usable_cores": 32},
        "memory_bytes": 64 * 1024**3,
        "gpus": [{"kind": "cuda", "name": "NVIDIA L4", "driver": "550.54", "memory": "23034 MiB",
                  "compute_capability": "8.9"}],
        "os": {"system": "Linux", "release": "6.1.0", "platform": "Linux-6.1.0-x86_64-with-glibc2.36"},
        "python": "3.11.7",
        "frameworks": {"torch": "2.13.0", "tensorflow": None, "tensorflow-cpu": "2.21.0", "keras": "3.15.1",
                       "jax": None, "jaxlib": None},
        "batchmark": "0.1.0",
    }


def plan_dict(framework: str, plan_label: str) -> dict:
    if plan_label == "baseline":
        return Plan(framework=framework, channels_last=framework != "torch")
    return Plan(framework=framework, device="cuda", precision="bf16",
                compile="default" if framework == "torch" else "xla", channels_last=True)


def ok_row(workload: str, framework: str, plan_label: str, median: float, *, baseline_median: float | None = None,
           warnings: tuple[tuple[str, str], ...] = (), batch_size: int = 32, image_size: int = 224) -> Row:
    """A measured row whose statistics are really those of its step_seconds, as the runner writes them."""
    steps = [median * factor for factor in STEP_SHAPE]
    statistics = summarize(steps)
    compiled = plan_label != "baseline"
    return Row(
        workload=workload, framework=framework, plan_label=plan_label, plan=plan_dict(framework, plan_label),
        batch_size=batch_size, image_size=image_size, status="ok",
        measured=WorkerOutput(
            setup_seconds=1.5, warmup_seconds=[median * 8 if compiled else median * 1.2, median],
            step_seconds=steps, losses=[2.3] * len(steps), peak_memory_bytes=int(2.5 * 1024**3),
            memory_kind="CUDA max allocated", forward_flops_per_sample=4.1e9, train_flops_per_sample=1.23e10,
            device_name="NVIDIA L4", framework_version="2.13.0", threads=16,
        ),
        statistics=statistics,
        warnings=[RowWarning(code=code, message=message) for code, message in warnings],
        samples_per_second=batch_size / statistics.median,
        compile_seconds=median * 7 if compiled else None,
        speedup_vs_baseline=None if baseline_median is None else baseline_median / statistics.median,
    )


def failed_row(workload: str, framework: str, plan_label: str, kind: str = "oom",
               message: str = "CUDA out of memory: tried to allocate 2.00 GiB") -> Row:
    return Row(workload=workload, framework=framework, plan_label=plan_label, plan=plan_dict(framework, plan_label),
               batch_size=32, image_size=224, status="failed", failure=Failure(kind=kind, message=message))


def sample_rows(scale: float = 1.0) -> list[Row]:
    """Baseline first in each (workload, framework), as the runner orders them; `scale` makes a slower machine."""
    return [
        ok_row("mobilenetv3", "torch", "baseline", 0.080 * scale, baseline_median=0.080 * scale),
        ok_row("mobilenetv3", "torch", "accelerated", 0.050 * scale, baseline_median=0.080 * scale),
        ok_row("mobilenetv3", "tensorflow", "baseline", 0.095 * scale, baseline_median=0.095 * scale,
               warnings=(("high_dispersion", "step times vary by 12% (CV > 10%): close other programs, "
                                             "pin --plan threads=N, or run more steps"),)),
        ok_row("mobilenetv3", "tensorflow", "accelerated", 0.110 * scale, baseline_median=0.095 * scale),
        ok_row("densenet121", "torch", "baseline", 0.310 * scale, baseline_median=0.310 * scale),
        ok_row("densenet121", "torch", "accelerated", 0.190 * scale, baseline_median=0.310 * scale),
        ok_row("densenet121", "tensorflow", "baseline", 0.350 * scale, baseline_median=0.350 * scale),
        failed_row("densenet121", "tensorflow", "accelerated"),
    ]


def sample_run(hostname: str = "bench-1", run_id: str = "20261128T142555Z-c20823", scale: float = 1.0,
               rows: list[Row] | None = None) -> ResultsFile:
    return ResultsFile(
        batchmark_version="0.1.0", run_id=run_id, command=["batchmark", "run", "--framework", "torch,tensorflow"],
        profile="standard", started_at="2026-11-28T14:25:55+00:00", finished_at="2026-11-28T14:48:47+00:00",
        machine=machine(hostname), rows=sample_rows(scale) if rows is None else rows,
    )


def hostile_run() -> ResultsFile:
    """Markup in the hostname, a plan label, a warning message and a failure message."""
    rows = [
        ok_row("mobilenetv3", "torch", "baseline", 0.08, baseline_median=0.08),
        ok_row("mobilenetv3", "torch", HOSTILE, 0.05, baseline_median=0.08,
               warnings=(("outliers", f"1 outlier step {HOSTILE}"),)),
        failed_row("densenet121", "torch", "baseline", kind="crash", message=f"worker said {HOSTILE}"),
    ]
    return sample_run(hostname=HOSTILE, run_id="20261128T150000Z-hostil", rows=rows)
