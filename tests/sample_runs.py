"""Small, exact runs for tests that need results without running a framework: every number is chosen."""

from __future__ import annotations

import datetime as dt
import itertools

from batchmark.engine.stats import summarize
from batchmark.results import (Calibration, Failure, Peak, ResultsFile, Row, RowWarning, WorkerOutput, apply_peaks,
                               apply_speedups)

_run_numbers = itertools.count(1)


def fingerprint(hostname: str = "bench-01", torch_version: str = "2.13.0+cpu") -> dict:
    return {
        "hostname": hostname,
        "cpu": {"model": "AMD EPYC 9B45", "arch": "x86_64", "flags": ["avx2", "fma"], "physical_cores": 1,
                "logical_cores": 2, "usable_cores": 2},
        "memory_bytes": 25_276_063_744,
        "gpus": [],
        "os": {"system": "Linux", "release": "6.18.44", "platform": "Linux-6.18.44-x86_64-with-glibc2.36"},
        "python": "3.11.7",
        "frameworks": {"torch": torch_version, "tensorflow": None, "tensorflow-cpu": "2.21.0", "keras": "3.15.1",
                       "jax": None, "jaxlib": None},
        "batchmark": "0.1.0",
    }


def plan(framework: str = "torch", precision: str = "fp32", compile: str = "off", threads: int | None = None) -> dict:
    return {"framework": framework, "device": "cpu", "precision": precision, "compile": compile,
            "channels_last": framework != "torch", "threads": threads}


def ok_row(workload: str, framework: str, plan_label: str, step_seconds: list[float], *, batch_size: int = 32,
           image_size: int = 224, precision: str = "fp32", threads: int | None = None,
           train_flops: float = 20.65e9, warnings: list[tuple[str, str]] = (), losses: list[float] | None = None,
           framework_version: str = "2.13.0+cpu") -> Row:
    statistics = summarize(step_seconds)
    measured = WorkerOutput(
        setup_seconds=1.5, warmup_seconds=[step_seconds[0] * 3, step_seconds[0] * 1.1], step_seconds=step_seconds,
        losses=losses if losses is not None else [2.3 - 0.01 * index for index in range(len(step_seconds))],
        peak_memory_bytes=3 * 2**30, memory_kind="process peak RSS", forward_flops_per_sample=train_flops / 3,
        train_flops_per_sample=train_flops, device_name="AMD EPYC 9B45", framework_version=framework_version,
        threads=threads or 2,
    )
    return Row(workload=workload, framework=framework, plan_label=plan_label,
               plan=plan(framework, precision, threads=threads), batch_size=batch_size, image_size=image_size,
               status="ok", measured=measured, statistics=statistics,
               warnings=[RowWarning(code=code, message=message) for code, message in warnings],
               samples_per_second=batch_size / statistics.median)


def failed_row(workload: str, framework: str, plan_label: str, kind: str = "oom",
               message: str = "worker killed by SIGKILL: most likely the kernel's out-of-memory killer") -> Row:
    return Row(workload=workload, framework=framework, plan_label=plan_label, plan=plan(framework), batch_size=32,
               image_size=224, status="failed", failure=Failure(kind=kind, message=message))


def run(rows: list[Row], *, hostname: str = "bench-01", run_id: str | None = None,
        started_at: dt.datetime | None = None, profile: str = "standard", torch_version: str = "2.13.0+cpu",
        calibration: Calibration | None = None) -> ResultsFile:
    number = next(_run_numbers)
    started = started_at or dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=number)
    apply_speedups(rows)
    results = ResultsFile(
        batchmark_version="0.1.0", run_id=run_id or f"{started:%Y%m%dT%H%M%SZ}-{number:06x}",
        command=["batchmark", "run"], profile=profile, started_at=started.isoformat(),
        finished_at=(started + dt.timedelta(minutes=30)).isoformat(), machine=fingerprint(hostname, torch_version),
        rows=rows, calibration=calibration,
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


def standard_run(**options) -> ResultsFile:
    """Two workloads, two frameworks, baseline and accelerated; one row failed, one with a warning."""
    return run([
        ok_row("resnet50v2_finetune", "torch", "baseline", [9.9, 10.1, 9.8, 10.4, 10.0, 9.95]),
        ok_row("resnet50v2_finetune", "torch", "accelerated", [8.3, 8.2, 8.4, 8.25, 8.35, 8.3], train_flops=20.65e9,
               warnings=[("outliers", "1 of 6 steps is an outlier (modified Z-score > 3.5): rerun on a quieter machine")]),
        ok_row("mobilenetv3", "torch", "baseline", [2.5, 2.6, 2.55, 2.58, 2.52], train_flops=1.29e9),
        failed_row("mobilenetv3", "torch", "accelerated"),
        ok_row("mobilenetv3", "tensorflow", "baseline", [2.9, 2.95, 2.88, 3.0, 2.91], train_flops=1.29e9,
               framework_version="2.21.0"),
        ok_row("mobilenetv3", "tensorflow", "accelerated", [16.3, 16.4, 15.9, 16.5, 16.36], train_flops=1.29e9,
               framework_version="2.21.0"),
    ], **{"calibration": calibration(), **options})
