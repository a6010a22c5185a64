"""% of peak: each row against the calibrated peak of its own device and precision, derived on read."""

from __future__ import annotations

import dataclasses

import pytest

from batchmark.results import ABOVE_PEAK, apply_peaks
from tests import sample_runs


def test_percent_of_peak_uses_the_rows_precision_and_training_flops():
    run = sample_runs.standard_run()
    fp32_row = run.rows[1]  # resnet accelerated: 20.65 GFLOP per sample, batch 32, median 8.3 s
    achieved = 20.65e9 * 32 / fp32_row.statistics.median
    assert fp32_row.achieved_flops_per_second == pytest.approx(achieved)
    assert fp32_row.percent_of_peak == pytest.approx(100 * achieved / 0.2e12)
    fp32_row.plan = dataclasses.replace(fp32_row.plan, precision="bf16")
    apply_peaks(run)
    assert fp32_row.percent_of_peak == pytest.approx(100 * achieved / 0.7e12)


def test_no_peak_for_the_precision_or_no_calibration_means_no_percentage():
    run = sample_runs.standard_run()
    run.rows[1].plan = dataclasses.replace(run.rows[1].plan, precision="fp16")
    apply_peaks(run)
    assert run.rows[1].percent_of_peak is None and run.rows[1].achieved_flops_per_second is not None
    run.calibration = None
    apply_peaks(run)
    assert all(row.percent_of_peak is None for row in run.rows)


def test_failed_rows_have_no_flop_rate():
    run = sample_runs.standard_run()
    failed = next(row for row in run.rows if row.status == "failed")
    assert failed.achieved_flops_per_second is None and failed.percent_of_peak is None



def test_a_row_above_the_calibrated_peak_shows_no_percentage_and_says_why():
    """A peak measured on a busy machine is too low; a row that outruns it proves it. The row says so, once,
    however often the derived fields are recomputed, instead of printing a % above 100."""
    run = sample_runs.standard_run()
    run.calibration = sample_runs.calibration(fp32=1e9)  # 1 GFLOP/s: below what every fp32 row reached
    apply_peaks(run)
    apply_peaks(run)
    measured = [row for row in run.rows if row.status == "ok" and row.plan.precision == "fp32"]
    assert measured
    for row in measured:
        assert row.percent_of_peak is None and row.achieved_flops_per_second > 1e9
        (warning,) = [warning for warning in row.warnings if warning.code == ABOVE_PEAK]
        assert "measured on a busy machine" in warning.message and "batchmark calibrate --force" in warning.message
        assert run.calibration.measured_at[:10] in warning.message  # when the suspect peak was measured
