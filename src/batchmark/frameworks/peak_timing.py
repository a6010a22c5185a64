"""How a peak is timed, whatever the framework (torch_peak, mlx_peak): grow a problem until one call takes long
enough to time, then keep the best of several trials. Imports no framework: each passes its own synchronize."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Callable

MIN_CALL_SECONDS = 0.05  # grow the problem until one call takes this long ...
TRIAL_SECONDS = 0.25  # ... then time repeated calls for this long per trial
TRIALS = 5


def best_rate(call: Callable[[], object], flops: float, synchronize: Callable[[], None]) -> tuple[float, float]:
    """(the best trial's FLOP/s, (best - median) / best): how much the trials disagreed."""
    rates = []
    for _ in range(TRIALS):
        synchronize()
        start = time.perf_counter()
        calls = 0
        while True:
            call()
            calls += 1
            synchronize()
            elapsed = time.perf_counter() - start
            if elapsed >= TRIAL_SECONDS:
                break
        rates.append(flops * calls / elapsed)
    best = max(rates)
    return best, (best - statistics.median(rates)) / best


def peak(device: str, precision: str, by_operation: dict[str, float], spreads: list[float]) -> dict:
    """One device and precision's peak as the calibration reads it: the best operation, and all of them."""
    operation = max(by_operation, key=by_operation.get)
    return {"device": device, "precision": precision, "operation": operation,
            "flops_per_second": by_operation[operation], "by_operation": by_operation, "trial_spread": max(spreads)}


def write_peaks(path: str, framework_version: str, peaks: list[dict], started: float) -> None:
    """The peak module's reply to the calibration (engine/calibration.py)."""
    Path(path).write_text(json.dumps({"framework_version": framework_version, "peaks": peaks,
                                      "seconds": time.perf_counter() - started}))


def grow(make, sizes, synchronize: Callable[[], None]):
    """The first size whose single call takes MIN_CALL_SECONDS (or the largest): (size, call, flops)."""
    for size in sizes:
        call, flops = make(size)
        call()  # first call: allocation and kernel selection
        synchronize()
        start = time.perf_counter()
        call()
        synchronize()
        if time.perf_counter() - start >= MIN_CALL_SECONDS or size == sizes[-1]:
            return size, call, flops
    raise AssertionError("unreachable")
