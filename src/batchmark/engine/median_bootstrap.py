"""The bootstrap distribution of a sample median, exactly: what 10,000 random resamples estimate, computed.

A resample draws n of the n sorted samples with replacement, so how many of its draws fall at or below
sorted position a is Binomial(n, a/n), and the resample's order statistics follow from those counts (Maritz
and Jarrett 1978; Efron 1982, ch. 10). For odd n = 2m+1 the resample's median is its (m+1)-th smallest draw:

    P(median* <= x_(a)) = P(Binomial(n, a/n) >= m+1)

For even n = 2m it is the mean of the m-th and (m+1)-th smallest draws, whose joint law comes from

    G(a, b) = P(X*_(m) <= x_(a), X*_(m+1) > x_(b)) = C(n, m) (a/n)^m (1 - b/n)^(n-m)    for a <= b

(exactly m draws at or below position a and none between a and b). The percentile interval of this
distribution is the limit of the Monte Carlo percentile bootstrap as its resamples grow, without its noise
and at a fraction of its cost: the leaderboard recomputes every submitted row's interval, and 10,000
resamples of each row were most of a submission's CPU time. Above EXACT_LIMIT samples the pair table (n^2
entries) would cost more than resampling, and the caller resamples instead.
"""

from __future__ import annotations

import functools
import math

import numpy as np

EXACT_LIMIT = 1000  # samples; the even case's table is (n+1)^2 floats: 8 MB at this size


def _log_binomial_pmf(n: int, probabilities: np.ndarray) -> np.ndarray:
    """log P(Binomial(n, p) = c) for every p (rows) and c = 0..n (columns); -inf where it is 0."""
    counts = np.arange(n + 1)
    log_choose = np.array([math.lgamma(n + 1) - math.lgamma(c + 1) - math.lgamma(n - c + 1) for c in counts])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log(probabilities)[:, None]
        log_q = np.log1p(-probabilities)[:, None]
        terms = log_choose + np.where(counts == 0, 0.0, counts * log_p) + np.where(counts == n, 0.0, (n - counts) * log_q)
    return terms


def _at_least(n: int, probabilities: np.ndarray, k: int) -> np.ndarray:
    """P(Binomial(n, p) >= k) for every p."""
    return np.exp(_log_binomial_pmf(n, probabilities)[:, k:]).sum(axis=1).clip(0.0, 1.0)


def distribution(samples) -> tuple[np.ndarray, np.ndarray]:
    """The values the median of a resample can take, ascending and distinct, and the probability of each."""
    ordered = np.sort(np.asarray(samples, dtype=float))
    if ordered.size == 0:
        raise ValueError("no samples")
    first, second, probabilities = position_law(ordered.size)
    return _merge_ties((ordered[first] + ordered[second]) / 2, probabilities)


@functools.lru_cache(maxsize=128)
def position_law(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where a resample's median falls among n sorted samples, whatever their values: it is the mean of the
    samples at sorted positions `first` and `second` (the same position for odd n) with `probabilities`. It depends
    on n alone, so it is worked out once per step count (a server checks thousands of rows of a few counts)."""
    m = n // 2
    below = np.arange(n + 1) / n  # the chance that one draw falls at or below sorted position a = 0..n
    if n % 2:
        positions = np.arange(n)
        law = positions, positions, np.diff(_at_least(n, below, m + 1))  # P(median* <= x_(a)), a = 0..n, differenced
    else:
        law = _even_pairs(n, below, m)
    for array in law:
        array.flags.writeable = False  # shared by every caller through the cache
    return law


def _even_pairs(n: int, below: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair i <= j of sorted positions, and the chance that the resample's two middle draws are exactly
    those."""
    log_choose = math.lgamma(n + 1) - 2 * math.lgamma(m + 1)  # C(2m, m)
    with np.errstate(divide="ignore"):
        log_low = m * np.log(below)  # (a/n)^m, a = 0..n
        log_high = (n - m) * np.log1p(-below)  # (1 - b/n)^(n-m), b = 0..n
    g = np.exp(log_choose + log_low[:, None] + log_high[None, :])  # (a, b); used only where a <= b
    i, j = np.triu_indices(n, k=1)  # sorted positions as 0-based indices, i < j
    a, b = i + 1, j + 1  # as 1-based positions
    apart = g[a, b - 1] - g[a, b] - g[a - 1, b - 1] + g[a - 1, b]
    # Both middle draws on the same position a: m+1 or more draws at or below it, at most m-1 below it.
    positions = np.arange(1, n + 1)
    same = (_at_least(n, below[positions], m + 1) - _at_least(n, below[positions - 1], m)
            + g[positions - 1, positions])
    diagonal = positions - 1
    return (np.concatenate([i, diagonal]), np.concatenate([j, diagonal]),
            np.concatenate([apart, same]).clip(0.0, None))


def _merge_ties(values: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(values, kind="stable")
    values, probabilities = values[order], probabilities[order]
    distinct, starts = np.unique(values, return_index=True)
    return distinct, np.add.reduceat(probabilities, starts)


def percentile_interval(samples, confidence: float) -> tuple[float, float]:
    """The central `confidence` interval of the resampled median: the smallest value whose cumulative chance
    reaches each tail's percentile, as the Monte Carlo percentiles tend to with many resamples."""
    values, probabilities = distribution(samples)
    cdf = np.cumsum(probabilities)
    cdf /= cdf[-1]  # rounding: the total is 1 to within ~1e-15
    tail = (1 - confidence) / 2
    slack = 1e-12  # a cumulative chance that reaches the percentile up to rounding reaches it
    low = values[min(int(np.searchsorted(cdf, tail - slack)), values.size - 1)]
    high = values[min(int(np.searchsorted(cdf, 1 - tail - slack)), values.size - 1)]
    return float(low), float(high)
