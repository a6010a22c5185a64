"""Is a submitted run believable? Two kinds of answer.

Refused (422): the data contradicts itself or names what batchmark does not know: an unknown workload, a
batch size no one trains with, a step time that is not a positive number, statistics or samples/s that are
not those of the raw samples sent with them. Nothing is stored.

Unverified (stored, kept off the leaderboard by default): consistent, but faster than the hardware can be:
more model FLOP/s than the run's own calibrated peak for that device and precision, with a 10% margin for
the calibration's own noise, or, without a calibrated peak, more than the fastest device anyone sells.
"""

from __future__ import annotations

import math

from batchmark.engine.stats import summarize
from batchmark.results import ResultsFile, Row, apply_peaks
from batchmark.wording import flops_per_second
from batchmark.store.tables import STATISTICS_COLUMNS
from batchmark.workloads.registry import workload_names

MAX_BATCH_SIZE = 4096  # the largest per-device batch in MLPerf Training's image tasks is well below this
MAX_IMAGE_SIZE = 8192
# The server recomputes every row's bootstrap CI (10,000 resamples of its steps): these caps bound that work
# to a few seconds per submission. batchmark's adaptive count stops at 50 steps a row.
MAX_STEPS_PER_ROW = 1000
MAX_STEPS_PER_RUN = 20_000
STATISTICS_TOLERANCE = 1e-6  # relative: the same float64 arithmetic on another machine agrees far closer
PEAK_MARGIN = 1.1  # a calibrated peak is the best of a few trials; a real workload may edge past it
# The fastest single device known: NVIDIA's GB200 NVL72 datasheet gives 360 PFLOPS of FP16/BF16 Tensor Core
# throughput *with sparsity* for 72 Blackwell GPUs, i.e. 2.5 PFLOP/s dense per GPU, the form training uses.
# No fp32, tf32, bf16 or fp16 training step on one device of any vendor can exceed it.
FASTEST_KNOWN_FLOPS_PER_SECOND = 2.5e15


def refusals(results: ResultsFile) -> list[str]:
    """Why the run cannot be stored, one sentence each; empty when it can."""
    total = sum(len(row.measured.step_seconds) for row in results.rows if row.measured is not None)
    if total > MAX_STEPS_PER_RUN:  # before any statistics are recomputed
        return [f"rows: {total} timed steps in all, this server takes at most {MAX_STEPS_PER_RUN} a run"]
    known = set(workload_names())
    problems = []
    for index, row in enumerate(results.rows):
        where = f"rows.{index}"
        if row.workload not in known:
            problems.append(f"{where}.workload: unknown workload {row.workload!r} (this server knows "
                            f"{', '.join(sorted(known))})")
        if not 1 <= row.batch_size <= MAX_BATCH_SIZE:
            problems.append(f"{where}.batch_size: {row.batch_size} is not between 1 and {MAX_BATCH_SIZE}")
        if not 1 <= row.image_size <= MAX_IMAGE_SIZE:
            problems.append(f"{where}.image_size: {row.image_size} is not between 1 and {MAX_IMAGE_SIZE}")
        problems += measurement_problems(row, where)
    for index, peak in enumerate(results.calibration.peaks if results.calibration else []):
        if peak.flops_per_second <= 0:
            problems.append(f"calibration.peaks.{index}.flops_per_second: must be positive")
    return problems


def measurement_problems(row: Row, where: str) -> list[str]:
    measured, statistics = row.measured, row.statistics
    if row.status == "ok" and (measured is None or statistics is None or row.samples_per_second is None):
        return [f"{where}: an ok row needs its measured steps, statistics and samples_per_second"]
    problems = []
    if measured is not None:
        steps = measured.step_seconds
        if not steps and statistics is not None:
            problems.append(f"{where}.measured.step_seconds: statistics without any timed step")
        if len(steps) > MAX_STEPS_PER_ROW:
            problems.append(f"{where}.measured.step_seconds: {len(steps)} steps, at most {MAX_STEPS_PER_ROW} a row")
        if any(not math.isfinite(step) or step <= 0 for step in steps):
            problems.append(f"{where}.measured.step_seconds: every step time must be a positive number of seconds")
        if any(not math.isfinite(step) or step < 0 for step in measured.warmup_seconds):
            problems.append(f"{where}.measured.warmup_seconds: every warm-up time must be 0 or more seconds")
        for name in ("setup_seconds", "peak_memory_bytes", "forward_flops_per_sample", "train_flops_per_sample"):
            value = getattr(measured, name)
            if value is not None and value < 0:
                problems.append(f"{where}.measured.{name}: must not be negative")
        if measured.peak_memory_bytes is not None and measured.peak_memory_bytes > 2**63 - 1:
            problems.append(f"{where}.measured.peak_memory_bytes: out of range")
        if measured.threads is not None and not 0 <= measured.threads <= 2**31 - 1:
            problems.append(f"{where}.measured.threads: out of range")
    if row.compile_seconds is not None and row.compile_seconds < 0:
        problems.append(f"{where}.compile_seconds: must not be negative")
    if statistics is not None and measured is not None and steps and not problems:
        problems += statistics_problems(row, where)
    return problems


def statistics_problems(row: Row, where: str) -> list[str]:
    """The statistics and samples/s sent must be those of the raw samples sent: recomputed here."""
    expected = summarize(row.measured.step_seconds)
    differ = [column for column in STATISTICS_COLUMNS
              if not math.isclose(getattr(row.statistics, column), getattr(expected, column),
                                  rel_tol=STATISTICS_TOLERANCE, abs_tol=1e-12)]
    if differ:
        return [f"{where}.statistics: {', '.join(differ)} do not match the step_seconds sent (recomputed "
                f"{differ[0]} = {getattr(expected, differ[0])!r}, sent {getattr(row.statistics, differ[0])!r})"]
    rate = row.batch_size / expected.median
    if row.samples_per_second is not None and not math.isclose(row.samples_per_second, rate,
                                                              rel_tol=STATISTICS_TOLERANCE):
        return [f"{where}.samples_per_second: {row.samples_per_second!r} is not batch_size / median = {rate!r}"]
    return []


def doubts(results: ResultsFile) -> list[str]:
    """Why the run is stored unverified, one sentence each; empty when it is believable. Needs refusals() to
    have found nothing."""
    apply_peaks(results)
    reasons = []
    for peak in results.calibration.peaks if results.calibration else []:
        if peak.flops_per_second > FASTEST_KNOWN_FLOPS_PER_SECOND:
            reasons.append(f"calibration claims a {peak.device} {peak.precision} peak of "
                           f"{flops_per_second(peak.flops_per_second)}, more than the fastest known device "
                           f"({flops_per_second(FASTEST_KNOWN_FLOPS_PER_SECOND)})")
    for row in results.rows:
        achieved = row.achieved_flops_per_second
        if achieved is None:
            continue
        device, precision = row.plan.device, row.plan.precision
        peak = results.calibration.peak(device, precision) if results.calibration else None
        name = f"{row.workload} · {row.framework} · {row.plan_label}"
        if peak is not None and peak.flops_per_second > 0 and achieved > peak.flops_per_second * PEAK_MARGIN:
            reasons.append(f"{name}: {flops_per_second(achieved)} is more than the run's calibrated {device} "
                           f"{precision} peak of {flops_per_second(peak.flops_per_second)} × {PEAK_MARGIN}")
        elif peak is None and achieved > FASTEST_KNOWN_FLOPS_PER_SECOND:
            reasons.append(f"{name}: {flops_per_second(achieved)} is more than the fastest known device "
                           f"({flops_per_second(FASTEST_KNOWN_FLOPS_PER_SECOND)}), and the run has no calibrated "
                           f"{device} {precision} peak")
    return reasons

