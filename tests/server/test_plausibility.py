"""Which runs are refused (422), which are stored unverified, and what the leaderboard does with them."""

from __future__ import annotations

import json

import pytest

from batchmark.results import Calibration, Peak
from batchmark.server import plausibility
from tests import sample_runs
from tests.server.conftest import bearer
from tests.server.helpers import body


def mobilenet(steps, **options):
    return sample_runs.ok_row("mobilenetv3", "torch", "baseline", steps, train_flops=1.29e9, **options)


def test_a_consistent_run_is_neither_refused_nor_doubted():
    run = sample_runs.standard_run()
    assert plausibility.refusals(run) == [] and plausibility.doubts(run) == []


def test_more_flops_than_the_calibrated_peak_is_unverified():
    # 32 samples per 0.01 s × 1.29 GFLOP = 4.1 TFLOP/s against a calibrated 0.2 TFLOP/s fp32 peak.
    run = sample_runs.run([mobilenet([0.01, 0.0101, 0.0099, 0.01, 0.0102])], calibration=sample_runs.calibration())
    [reason] = plausibility.doubts(run)
    assert "more than the run's calibrated cpu fp32 peak of 200 GFLOP/s × 1.1" in reason


def test_within_the_margin_of_the_peak_is_verified():
    # 1.05 × the peak: a real workload can edge past a calibration's best trial.
    seconds = 32 * 1.29e9 / (0.2e12 * 1.05)
    run = sample_runs.run([mobilenet([seconds] * 5)], calibration=sample_runs.calibration())
    assert plausibility.doubts(run) == []


def test_without_calibration_more_than_the_fastest_device_is_unverified():
    believable = sample_runs.run([mobilenet([0.001] * 5)])  # 41 TFLOP/s: a GPU can
    assert plausibility.doubts(believable) == []
    impossible = sample_runs.run([mobilenet([1e-6] * 5)])  # 41 PFLOP/s: nothing can
    [reason] = plausibility.doubts(impossible)
    assert "more than the fastest known device (2.5 PFLOP/s)" in reason and "no calibrated cpu fp32 peak" in reason


def test_a_calibrated_peak_beyond_any_device_is_unverified():
    calibration = Calibration(fingerprint="f" * 64, framework="torch", framework_version="2.13.0",
                              measured_at="2026-11-28T12:00:00+00:00", seconds=1.0,
                              peaks=[Peak(device="cpu", precision="fp32", flops_per_second=1e18, operation="matmul")])
    run = sample_runs.run([mobilenet([1e-6] * 5)], calibration=calibration)
    assert any("calibration claims a cpu fp32 peak of 1e+03 PFLOP/s" in reason for reason in plausibility.doubts(run))


@pytest.mark.parametrize("change, message", [
    (lambda row: setattr(row.measured, "step_seconds", [-1.0, 2.0, 2.0]), "every step time must be a positive"),
    (lambda row: setattr(row.measured, "step_seconds", [0.0, 2.0, 2.0]), "every step time must be a positive"),
    (lambda row: setattr(row.statistics, "median", row.statistics.median / 2), "statistics: median do not match"),
    (lambda row: setattr(row, "samples_per_second", row.samples_per_second * 2), "samples_per_second"),
    (lambda row: setattr(row, "workload", "gpt5_pretrain"), "unknown workload 'gpt5_pretrain'"),
    (lambda row: setattr(row, "batch_size", 0), "batch_size: 0 is not between 1 and 4096"),
    (lambda row: setattr(row, "batch_size", 100_000), "batch_size: 100000 is not between 1 and 4096"),
    (lambda row: setattr(row, "measured", None), "an ok row needs its measured steps"),
    (lambda row: setattr(row.measured, "step_seconds", [1.0] * 1001), "1001 steps, at most 1000 a row"),
])
def test_inconsistent_rows_are_refused(change, message):
    run = sample_runs.standard_run()
    change(run.rows[0])
    problems = plausibility.refusals(run)
    assert any(message in problem for problem in problems), problems


def test_an_unverified_run_is_stored_with_its_reasons_and_kept_off_the_leaderboard(client, token):
    run = sample_runs.run([mobilenet([0.01, 0.0101, 0.0099, 0.01, 0.0102])], calibration=sample_runs.calibration())
    answer = client.post("/api/v1/runs", content=body(run), headers=bearer(token))
    assert answer.status_code == 201 and answer.json()["verified"] is False
    assert answer.json()["reasons"] == plausibility.doubts(run)
    assert client.get("/api/v1/leaderboard/mobilenetv3").json()["entries"] == []
    included = client.get("/api/v1/leaderboard/mobilenetv3", params={"include_unverified": "true"}).json()
    assert [entry["run_id"] for entry in included["entries"]] == [run.run_id]
    assert included["entries"][0]["verified"] is False
    page = client.get(f"/runs/{run.run_id}").text
    assert 'data-verified="false"' in page and "calibrated cpu fp32 peak of 200 GFLOP/s" in page
    assert client.get(f"/api/v1/runs/{run.run_id}").json()["reasons"] == answer.json()["reasons"]


def test_an_implausible_run_is_refused_with_one_line(client, token, server_database):
    from tests.server.helpers import count

    data = json.loads(body(sample_runs.standard_run()))
    data["rows"][0]["statistics"]["median"] = 0.001
    answer = client.post("/api/v1/runs", content=json.dumps(data), headers=bearer(token))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("request body: implausible results: rows.0.statistics: median")
    assert count(server_database, "runs") == 0
