import math

import numpy as np
import pytest

from batchmark.engine import median_bootstrap

from batchmark.engine.stats import (
    StabilityWarning,
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    bootstrap_median_ci,
    modified_z_scores,
    resampled_median_ci,
    stability_warnings,
    summarize,
)


def codes(samples):
    return {code for code, _ in stability_warnings(samples)}


def test_summary_of_known_samples():
    summary = summarize([1.0, 2.0, 3.0, 4.0, 100.0])
    assert summary.median == 3.0
    assert (summary.min, summary.max) == (1.0, 100.0)
    assert (summary.q1, summary.q3) == (2.0, 4.0)
    assert summary.iqr == 2.0
    assert summary.mean == pytest.approx(22.0)


def test_bootstrap_ci_brackets_the_median_and_is_reproducible():
    samples = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.00]
    low, high = bootstrap_median_ci(samples)
    assert low <= summarize(samples).median <= high
    assert 0.97 <= low < high <= 1.03
    assert bootstrap_median_ci(samples) == (low, high)


def test_bootstrap_ci_narrows_with_more_samples():
    few = [1.0, 1.1, 0.9, 1.05, 0.95]
    many = few * 20
    few_low, few_high = bootstrap_median_ci(few)
    many_low, many_high = bootstrap_median_ci(many)
    assert many_high - many_low < few_high - few_low


def test_single_sample_has_a_degenerate_ci():
    assert bootstrap_median_ci([2.5]) == (2.5, 2.5)


def test_steady_samples_raise_no_warning():
    assert codes([1.00, 1.01, 0.99, 1.00, 1.02, 0.98]) == set()


def test_too_few_samples():
    assert StabilityWarning.TOO_FEW_SAMPLES in codes([1.0, 1.0, 1.0])


def test_high_dispersion():
    assert StabilityWarning.HIGH_DISPERSION in codes([1.0, 1.5, 0.7, 1.3, 0.8, 1.2])


def test_outlier_is_found_by_modified_z():
    samples = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98, 1.01, 3.0]
    scores = modified_z_scores(samples)
    assert abs(scores[-1]) > 3.5 and all(abs(z) < 3.5 for z in scores[:-1])
    assert StabilityWarning.OUTLIERS in codes(samples)


def test_slow_first_step():
    assert StabilityWarning.SLOW_FIRST_STEP in codes([2.0, 1.0, 1.0, 1.01, 0.99, 1.0])
    assert StabilityWarning.SLOW_FIRST_STEP not in codes([1.2, 1.0, 1.0, 1.01, 0.99, 1.0])


def test_every_warning_says_what_to_do():
    samples = [5.0, 1.0, 1.6, 0.6]
    messages = [message for _, message in stability_warnings(samples)]
    assert len(messages) == 4
    assert all(any(verb in message for verb in ("raise", "close", "rerun", "drop")) for message in messages)


CI_CASES = [
    [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97],  # odd: the middle value
    [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97, 1.04],  # even: the mean of the middle two
    [0.5, 0.5, 0.7, 0.5, 0.6, 0.7],  # ties
    [2.0, 1.0],
]


@pytest.mark.parametrize("samples", CI_CASES)
def test_resampled_ci_is_that_of_the_plain_definition(samples):
    """The rank-sorting shortcut gives exactly the CI that np.median of each resample gives, from the same seed."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    resamples = rng.choice(np.asarray(samples), size=(BOOTSTRAP_RESAMPLES, len(samples)), replace=True)
    tail = (1 - 0.95) / 2 * 100  # as the engine writes it: 2.500000000000002, not 2.5
    low, high = np.percentile(np.median(resamples, axis=1), [tail, 100 - tail])
    assert resampled_median_ci(samples) == (float(low), float(high))


@pytest.mark.parametrize("samples", CI_CASES)
def test_exact_ci_is_what_the_resampled_ci_tends_to(samples):
    """The exact CI against a million resamples: equal, where the resampled percentiles do not sit on a jump of the
    distribution (these samples' do not)."""
    rng = np.random.default_rng(1)
    medians = np.median(rng.choice(np.asarray(samples), size=(1_000_000, len(samples))), axis=1)
    assert bootstrap_median_ci(samples) == tuple(float(value) for value in np.percentile(medians, [2.5, 97.5]))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 9, 12, 13, 40])
def test_exact_bootstrap_distribution_is_that_of_resampled_medians(size):
    """Every value's probability within sampling error of its frequency among 400,000 resampled medians, ties
    included, for odd and even counts."""
    rng = np.random.default_rng(size)
    samples = np.round(rng.lognormal(0, 0.1, size), 2)  # rounded: some values repeat
    values, probabilities = median_bootstrap.distribution(samples)
    assert probabilities.sum() == pytest.approx(1, abs=1e-12) and np.all(np.diff(values) > 0)
    medians = np.median(rng.choice(samples, size=(400_000, size)), axis=1)
    seen, counts = np.unique(medians, return_counts=True)
    frequency = dict(zip(seen.tolist(), (counts / medians.size).tolist()))
    assert set(frequency) <= set(values.tolist())
    for value, probability in zip(values.tolist(), probabilities.tolist()):
        assert frequency.get(value, 0.0) == pytest.approx(probability, abs=5 * math.sqrt(probability / 400_000) + 1e-4)


def test_many_samples_are_resampled_rather_than_tabled():
    samples = list(np.random.default_rng(0).lognormal(0, 0.1, median_bootstrap.EXACT_LIMIT + 1))
    assert bootstrap_median_ci(samples) == resampled_median_ci(samples)
