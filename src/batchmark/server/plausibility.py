"""Is a submitted run believable? Two kinds of answer.

Refused (422): the data contradicts itself, names what batchmark does not know, or did not happen: an unknown
workload or a size it cannot take, a batch size no one trains with, a step time that is not a positive number,
statistics or samples/s that are not those of the raw samples sent with them, or a speed the claimed hardware
cannot reach. Nothing is stored.

The speed check is the server's own, whatever the client sends: FLOPs per sample from the workload and its size
(workload_flops: a lower bound), times the samples/s of the raw steps, against the most the claimed hardware
can do (hardware_peaks: the CPU's cores x FMA rate x the fastest clock, a known GPU's datasheet peak, or the
fastest device anyone sells), with room for algorithms that skip multiplications.

Unverified (stored, kept off the leaderboard by default): consistent and possible, but doubtful: more model
FLOP/s than the run's own calibrated peak for that device and precision (with a 10% margin for the
calibration's own noise), a calibrated peak beyond any device, or a FLOP count far from the server's.
"""

from __future__ import annotations

import math
import statistics as stats

from batchmark.engine.stats import resampled_median_ci, summarize
from batchmark.results import ResultsFile, Row, apply_peaks
from batchmark.server.hardware_peaks import FASTEST_KNOWN, FASTEST_KNOWN_FLOPS_PER_SECOND, hardware_bound
from batchmark.server.workload_flops import train_flops_per_sample
from batchmark.wording import flops_per_second
from batchmark.store.tables import SAMPLE_SERIES, STATISTICS_COLUMNS
from batchmark.workloads.registry import get_workload, workload_names

MAX_BATCH_SIZE = 4096  # the largest per-device batch in MLPerf Training's image tasks is well below this
MAX_IMAGE_SIZE = 8192
# The server recomputes every row's bootstrap CI (10,000 resamples of its steps): these caps bound that work
# to a few seconds per submission. batchmark's adaptive count stops at 50 steps a row.
MAX_STEPS_PER_ROW = 1000
MAX_STEPS_PER_RUN = 20_000
MAX_SAMPLES_PER_RUN = 3 * MAX_STEPS_PER_RUN  # a warm-up time and a loss beside each step at most
STATISTICS_TOLERANCE = 1e-6  # relative: the same float64 arithmetic on another machine agrees far closer
PEAK_MARGIN = 1.1  # a calibrated peak is the best of a few trials; a real workload may edge past it
# Model FLOPs count every multiply of the textbook algorithm, but a library may do fewer: Winograd's F(4x4, 3x3)
# computes a 3x3 convolution with 4x fewer multiplications. A row may beat the hardware's peak by that much.
ALGORITHM_MARGIN = 4.0
# A client's FLOP count this far from the server's lower bound is not one batchmark's counters make: theirs agree
# within a few percent, and the bound is within about 2x of the real count at the sizes the rule scales to.
FLOP_COUNT_RANGE = (0.5, 4.0)


def refusals(results: ResultsFile) -> list[str]:
    """Why the run cannot be stored, one sentence each; empty when it can."""
    total = sum(len(row.measured.step_seconds) for row in results.rows if row.measured is not None)
    if total > MAX_STEPS_PER_RUN:  # before any statistics are recomputed
        return [f"rows: {total} timed steps in all, this server takes at most {MAX_STEPS_PER_RUN} a run"]
    values = sum(len(getattr(row.measured, series)) for row in results.rows if row.measured is not None
                 for series in SAMPLE_SERIES)
    if values > MAX_SAMPLES_PER_RUN:
        return [f"rows: {values} samples in all (warm-up, timed steps and losses), this server takes at most "
                f"{MAX_SAMPLES_PER_RUN} a run"]
    known = set(workload_names())
    problems = []
    for index, row in enumerate(results.rows):
        where = f"rows.{index}"
        row_problems = []
        if row.workload not in known:
            row_problems.append(f"{where}.workload: unknown workload {row.workload!r} (this server knows "
                                f"{', '.join(sorted(known))})")
        elif (size_problem := get_workload(row.workload).size_problem(row.image_size)) is not None:
            row_problems.append(f"{where}.image_size: {row.workload} cannot take {row.image_size}: {size_problem}")
        if not 1 <= row.batch_size <= MAX_BATCH_SIZE:
            row_problems.append(f"{where}.batch_size: {row.batch_size} is not between 1 and {MAX_BATCH_SIZE}")
        if not 1 <= row.image_size <= MAX_IMAGE_SIZE:
            row_problems.append(f"{where}.image_size: {row.image_size} is not between 1 and {MAX_IMAGE_SIZE}")
        row_problems += measurement_problems(row, where)
        if not row_problems and row.status == "ok":  # a speed needs a known workload and sound steps
            row_problems += speed_problems(results, row, where)
        problems += row_problems
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
        for series in SAMPLE_SERIES:
            if len(getattr(measured, series)) > MAX_STEPS_PER_ROW:
                problems.append(f"{where}.measured.{series}: {len(getattr(measured, series))} values, at most "
                                f"{MAX_STEPS_PER_ROW} a row")
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
    differ = differing_statistics(row, expected)
    if differ and set(differ) <= {"ci_low", "ci_high"}:
        # Written before the exact CI: its interval is the one 10,000 seeded resamples gave, recomputed as such.
        low, high = resampled_median_ci(row.measured.step_seconds)
        differ = differing_statistics(row, expected.model_copy(update={"ci_low": low, "ci_high": high}))
    if differ:
        return [f"{where}.statistics: {', '.join(differ)} do not match the step_seconds sent (recomputed "
                f"{differ[0]} = {getattr(expected, differ[0])!r}, sent {getattr(row.statistics, differ[0])!r})"]
    rate = row.batch_size / expected.median
    if row.samples_per_second is not None and not math.isclose(row.samples_per_second, rate,
                                                              rel_tol=STATISTICS_TOLERANCE):
        return [f"{where}.samples_per_second: {row.samples_per_second!r} is not batch_size / median = {rate!r}"]
    return []


def differing_statistics(row: Row, expected) -> list[str]:
    return [column for column in STATISTICS_COLUMNS
            if not math.isclose(getattr(row.statistics, column), getattr(expected, column),
                                rel_tol=STATISTICS_TOLERANCE, abs_tol=1e-12)]


def model_flops(row: Row) -> float | None:
    """FLOPs per sample of the row's training step: the server's own lower bound, or for a workload it has no
    figure for (a plugin's) the client's count, which is then held only against the fastest device."""
    flops = train_flops_per_sample(row.workload, row.image_size)
    if flops is None and row.measured is not None and row.measured.train_flops_per_sample:
        flops = row.measured.train_flops_per_sample
    return flops


def speed_problems(results: ResultsFile, row: Row, where: str) -> list[str]:
    """A row faster than its claimed hardware can go: it did not happen."""
    flops = model_flops(row)
    if flops is None:
        return []
    samples_per_second = row.batch_size / stats.median(row.measured.step_seconds)
    achieved = flops * samples_per_second
    ours = train_flops_per_sample(row.workload, row.image_size) is not None
    bound = hardware_bound(results.machine, row.plan.device, row.plan.precision) if ours else FASTEST_KNOWN
    if achieved <= bound.flops_per_second * ALGORITHM_MARGIN:
        return []
    rate = f"{samples_per_second:,.0f}" if samples_per_second >= 100 else f"{samples_per_second:.3g}"
    return [f"{where}: {rate} samples/s of {row.workload} at {row.image_size} "
            f"({flops / 1e9:.4g} GFLOP each at least) is {flops_per_second(achieved)}, more than {bound.hardware} "
            f"can do ({flops_per_second(bound.flops_per_second)}, x {ALGORITHM_MARGIN:g} for algorithms that skip "
            f"multiplications)"]


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
        if row.status != "ok" or row.measured is None or not row.samples_per_second:
            continue
        name = f"{row.workload} · {row.framework} · {row.plan_label}"
        reasons += flop_count_doubts(row, name)
        flops = model_flops(row)
        if flops is None:
            continue
        achieved = flops * row.samples_per_second
        device, precision = row.plan.device, row.plan.precision
        peak = results.calibration.peak(device, precision) if results.calibration else None
        if peak is not None and peak.flops_per_second > 0 and achieved > peak.flops_per_second * PEAK_MARGIN:
            reasons.append(f"{name}: {flops_per_second(achieved)} is more than the run's calibrated {device} "
                           f"{precision} peak of {flops_per_second(peak.flops_per_second)} × {PEAK_MARGIN}")
    return reasons


def flop_count_doubts(row: Row, name: str) -> list[str]:
    """A client's FLOP count far from the server's: a counter that is wrong, or a number made up."""
    claimed, ours = row.measured.train_flops_per_sample, train_flops_per_sample(row.workload, row.image_size)
    if not claimed or ours is None:
        return []
    low, high = FLOP_COUNT_RANGE
    if low * ours <= claimed <= high * ours:
        return []
    return [f"{name}: the run counts {claimed / 1e9:.4g} GFLOP per sample, where this server works out at least "
            f"{ours / 1e9:.4g} for {row.workload} at {row.image_size} (expected {low:g}x to {high:g}x of that)"]
