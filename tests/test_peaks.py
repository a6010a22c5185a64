"""% of peak: each row against the calibrated peak of its own device and precision, derived on read."""

from __future__ import annotations

import dataclasses

import pytest

from batchmark.results import apply_peaks
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

