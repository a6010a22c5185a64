"""Runs to submit, and what the tests read back with plain SQL rather than through the server's code."""

from __future__ import annotations

import sqlalchemy

from batchmark.machine import GpuFingerprint
from batchmark.store.database import resolve_url
from tests import sample_runs


def body(run) -> bytes:
    return run.model_dump_json().encode()


def count(database: str, table: str) -> int:
    assert table in ("runs", "results", "samples", "machines", "submissions", "upload_tokens")
    engine = sqlalchemy.create_engine(resolve_url(database))
    try:
        with engine.connect() as connection:
            return connection.execute(sqlalchemy.text(f"SELECT count(*) FROM {table}")).scalar_one()
    finally:
        engine.dispose()


def fast_run(hostname: str = "fast-box", factor: float = 0.5, **options):
    """standard_run's rows, every step `factor` times as long, on another machine."""
    return sample_runs.standard_run(step_factor=factor, hostname=hostname, **options)


# Four machines, from a workstation GPU to an old laptop: what the leaderboard and compare pages show.
MACHINES = (
    # hostname, CPU, GPU (name, kind) or None, device, step time factor, fp32 peak FLOP/s
    ("linux-workstation", "AMD Ryzen 9 5950X 16-Core Processor", ("NVIDIA GeForce RTX 3090", "cuda"), "cuda", 0.06, 35.6e12),
    ("macbook-pro-m1", "Apple M1 Pro", ("Apple M1 Pro", "mps"), "mps", 0.21, 5.2e12),
    ("bench-01", "AMD EPYC 9B45", None, "cpu", 1.0, 0.2e12),
    ("old-laptop", "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", None, "cpu", 2.3, 0.09e12),
)


def machine_run(hostname, cpu, gpu, device, factor, peak):
    from batchmark.results import Calibration, Peak

    calibration = Calibration(fingerprint="e" * 64, framework="torch", framework_version="2.13.0",
                              measured_at="2026-11-28T12:00:00+00:00", seconds=10.0,
                              peaks=[Peak(device=device, precision="fp32", flops_per_second=peak, operation="matmul 4096")])
    results = sample_runs.standard_run(step_factor=factor, device=device, hostname=hostname, calibration=calibration)
    results.machine.cpu.model = cpu
    if gpu:
        results.machine.gpus = [GpuFingerprint(kind=gpu[1], name=gpu[0], driver="550.54", memory="24576 MiB",
                                               compute_capability="8.6")]
    return results


def leaderboard_runs():
    return [machine_run(*machine) for machine in MACHINES]
