"""Statistics of per-step samples, and the closed set of stability warnings.

Medians rather than means: step times on a shared machine have a long right tail (another process, a
page fault, a GC pause), and the median is what a user's training loop sees most of the time. The 95% CI
of the median is a percentile bootstrap, which assumes nothing about the distribution; up to a thousand steps it
is computed exactly (median_bootstrap.py) rather than estimated from random resamples.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from batchmark.engine import median_bootstrap
from batchmark.results import Statistics

BOOTSTRAP_RESAMPLES = 10_000  # enough for a stable 2.5/97.5 percentile; costs milliseconds
BOOTSTRAP_SEED = 0  # the CI of the same samples must be the same number every time it is printed
HIGH_DISPERSION_CV = 0.10  # above 10% the median itself moves by several % between runs
OUTLIER_MODIFIED_Z = 3.5  # Iglewicz and Hoaglin's cut-off, as hyperfine uses
SLOW_FIRST_STEP_RATIO = 1.5  # the first timed step this much above the median means warm-up was too short
MIN_SAMPLES = 5  # fewer make the bootstrap CI meaningless
CONFIDENCE = 0.95


def bootstrap_median_ci(samples: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap CI of the median: the exact bootstrap distribution's percentiles (what the
    resampled CI tends to, without its noise), or past median_bootstrap.EXACT_LIMIT samples, 10,000 resamples."""
    if len(samples) <= median_bootstrap.EXACT_LIMIT:
        return median_bootstrap.percentile_interval(samples, confidence)
    return resampled_median_ci(samples, confidence)


def resampled_median_ci(samples: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """The Monte Carlo percentile bootstrap, from a fixed seed: the CI of rows past the exact limit, and of every
    row in results files written before the exact CI (the server still accepts those)."""
    data = np.asarray(samples, dtype=float)
    if data.size == 1:
        return float(data[0]), float(data[0])
    medians = _bootstrap_medians(data, BOOTSTRAP_RESAMPLES, np.random.default_rng(BOOTSTRAP_SEED))
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(medians, [tail, 100 - tail])
    return float(low), float(high)


def relative_precision(samples: list[float]) -> float:
    """Half the width of the median's 95% CI, as a fraction of the median: 0.03 means "within ±3%"."""
    if len(samples) < 2:
        return math.inf
    low, high = bootstrap_median_ci(samples)
    median = float(np.median(samples))
    return (high - low) / 2 / median if median > 0 else math.inf


def _bootstrap_medians(samples: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The median of each of `resamples` resamples with replacement: the same numbers as
    `np.median(rng.choice(samples, (resamples, n)), axis=1)`, from the same draws, about twice as fast (the server
    recomputes every submitted row's CI): np.median partitions each short row in a call of its own, while one
    np.sort along the rows is vectorized, and the sorted rows' middle is the median."""
    half = samples.size // 2
    drawn = rng.integers(0, samples.size, size=(resamples, samples.size))  # (resamples, n)
    resampled = np.sort(samples[drawn], axis=1)
    if samples.size % 2:
        return resampled[:, half]
    return (resampled[:, half - 1] + resampled[:, half]) / 2


def median_ratio_ci(samples_a: list[float], samples_b: list[float], resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """median(B) / median(A) and its percentile-bootstrap CI. A fresh generator per pair: a pair's CI must
    not depend on which other rows the runs hold."""
    rng = np.random.default_rng(seed)
    data_a, data_b = np.asarray(samples_a, dtype=float), np.asarray(samples_b, dtype=float)
    ratios = _bootstrap_medians(data_b, resamples, rng) / _bootstrap_medians(data_a, resamples, rng)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    return float(np.median(data_b) / np.median(data_a)), float(low), float(high)


def _two_level_medians(groups: list[list[float]], resamples: int, rng: np.random.Generator) -> np.ndarray:
    arrays = [np.asarray(group, dtype=float) for group in groups]
    medians = np.empty(resamples)
    for index in range(resamples):
        drawn = (arrays[pick] for pick in rng.integers(0, len(arrays), size=len(arrays)))
        medians[index] = np.median(np.concatenate([array[rng.integers(0, array.size, size=array.size)]
                                                   for array in drawn]))
    return medians


def grouped_median_ratio_ci(groups_a: list[list[float]], groups_b: list[list[float]],
                            resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED) -> tuple[float, float, float]:
    """median(B) / median(A) of the pooled steps, with a CI that covers the drift between processes as well as
    between steps: each resample draws whole measurements (processes) with replacement, then steps within each
    (a two-level bootstrap). With one measurement a side it is a plain bootstrap of the steps, as
    `median_ratio_ci`'s."""
    rng = np.random.default_rng(seed)
    ratios = _two_level_medians(groups_b, resamples, rng) / _two_level_medians(groups_a, resamples, rng)
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(ratios, [tail, 100 - tail])
    pooled_a = [value for group in groups_a for value in group]
    pooled_b = [value for group in groups_b for value in group]
    return float(np.median(pooled_b) / np.median(pooled_a)), float(low), float(high)


def warmup_above_steady(warmup_seconds: list[float], steady_seconds: float) -> float:
    """What warm-up cost above the steady step: compilation, autotuning, recompiles."""
    return sum(max(0.0, seconds - steady_seconds) for seconds in warmup_seconds)


def summarize(samples: list[float]) -> Statistics:
    if not samples:
        raise ValueError("no samples to summarize")
    data = np.asarray(samples, dtype=float)
    q1, median, q3 = np.percentile(data, [25, 50, 75])
    mean = float(data.mean())
    stdev = float(data.std(ddof=1)) if data.size > 1 else 0.0
    ci_low, ci_high = bootstrap_median_ci(samples)
    return Statistics(
        n=int(data.size), median=float(median), mean=mean, stdev=stdev, q1=float(q1), q3=float(q3),
        iqr=float(q3 - q1), min=float(data.min()), max=float(data.max()),
        cv=stdev / mean if mean > 0 else 0.0,  # coefficient of variation
        ci_low=ci_low, ci_high=ci_high,
    )


def modified_z_scores(samples: list[float]) -> list[float]:
    """Iglewicz-Hoaglin modified Z-scores: robust to the outliers they are looking for."""
    data = np.asarray(samples, dtype=float)
    median = np.median(data)
    mad = np.median(np.abs(data - median))
    if mad == 0:
        return [0.0 if x == median else math.inf for x in data]
    return [float(0.6745 * (x - median) / mad) for x in data]


class StabilityWarning(str, Enum):
    """Closed set: every warning names its cause and a fix."""

    TOO_FEW_SAMPLES = "too_few_samples"
    HIGH_DISPERSION = "high_dispersion"
    OUTLIERS = "outliers"
    SLOW_FIRST_STEP = "slow_first_step"
    PRECISION_NOT_REACHED = "precision_not_reached"


def stability_warnings(samples: list[float], target_precision: float | None = None,
                       stopped_by: str | None = None) -> list[tuple[StabilityWarning, str]]:
    """The warnings that apply to these step times, each with a message that says what to do. With the
    precision the row was asked for, a row that stopped short of it says so."""
    found: list[tuple[StabilityWarning, str]] = []
    reached = relative_precision(samples) if target_precision is not None and len(samples) >= 2 else None
    if reached is not None and reached > target_precision:
        why = {"time cap": "its time cap was reached", "max steps": "its maximum step count was reached"}.get(
            stopped_by or "", "timing stopped")
        found.append((StabilityWarning.PRECISION_NOT_REACHED,
                      f"the median is known to ±{reached:.1%}, not the ±{target_precision:.0%} "
                      f"asked for: {why}; the machine is noisy or the row needs more time (raise --budget)"))
    if len(samples) < MIN_SAMPLES:
        found.append((StabilityWarning.TOO_FEW_SAMPLES,
                      f"only {len(samples)} timed steps (< {MIN_SAMPLES}): the CI is not meaningful; "
                      "raise --steps or drop --quick"))
    if len(samples) < 2:
        return found
    summary = summarize(samples)
    if summary.cv > HIGH_DISPERSION_CV:
        found.append((StabilityWarning.HIGH_DISPERSION,
                      f"step times vary by {summary.cv:.1%} (CV > {HIGH_DISPERSION_CV:.0%}): "
                      "close other programs, pin --plan threads=N, or run more steps"))
    outliers = sum(1 for z in modified_z_scores(samples) if abs(z) > OUTLIER_MODIFIED_Z)
    if outliers:
        found.append((StabilityWarning.OUTLIERS,
                      f"{outliers} outlier step(s) (modified Z > {OUTLIER_MODIFIED_Z}): "
                      "another process was likely running; rerun on a quiet machine"))
    rest_median = float(np.median(samples[1:]))
    if samples[0] > SLOW_FIRST_STEP_RATIO * rest_median:
        found.append((StabilityWarning.SLOW_FIRST_STEP,
                      f"the first timed step took {samples[0] / rest_median:.1f}x the median of the rest: "
                      "warm-up was too short; raise --warmup"))
    return found
