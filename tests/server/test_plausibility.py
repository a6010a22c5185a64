"""Which runs are refused (422), which are stored unverified, and what the leaderboard does with them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from batchmark.engine.stats import resampled_median_ci, summarize
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


def test_without_calibration_the_servers_own_flops_are_held_against_the_hardware():
    believable = sample_runs.run([mobilenet([2.5] * 5)])  # 16 GFLOP/s on two cores
    assert plausibility.refusals(believable) == [] and plausibility.doubts(believable) == []
    impossible = sample_runs.run([mobilenet([0.001] * 5)])  # 40 TFLOP/s: a GPU can, two CPU cores cannot
    [problem] = plausibility.refusals(impossible)
    assert problem == ("rows.0: 32,000 samples/s of mobilenetv3 at 224 (1.265 GFLOP each at least) is 40.5 TFLOP/s, "
                       "more than 2 CPU cores at 6.2 GHz doing 32 fp32 FLOPs a cycle each can do (397 GFLOP/s, x 4 "
                       "for algorithms that skip multiplications)")


def forged(workload="resnet50v2_finetune", seconds=1e-7, train_flops=None, machine=None, **options):
    """The issue's forgery: a step time no hardware reaches, and no FLOP count to check it by."""
    row = sample_runs.ok_row(workload, "torch", "baseline", [seconds] * 5, **options)
    row.measured.train_flops_per_sample = row.measured.forward_flops_per_sample = train_flops
    return sample_runs.run([row], machine=machine)


def test_the_forged_run_of_the_issue_is_refused_and_never_ranked(client, token, server_database):
    from tests.server.helpers import count

    answer = client.post("/api/v1/runs", content=body(forged()), headers=bearer(token))
    assert answer.status_code == 422, answer.text
    assert "samples/s of resnet50v2_finetune at 224 (20.65 GFLOP each at least)" in answer.json()["detail"]
    assert count(server_database, "runs") == 0
    assert client.get("/api/v1/leaderboard/resnet50v2_finetune").json()["entries"] == []
    assert client.post("/api/v1/runs", content=body(forged(train_flops=0.0)), headers=bearer(token)).status_code == 422


def machine_with(cpu_flags=("avx2", "fma"), cores=2, gpu=None):
    machine = sample_runs.fingerprint()
    machine.cpu.flags, machine.cpu.logical_cores, machine.cpu.physical_cores = list(cpu_flags), cores, cores
    machine.cpu.usable_cores = cores
    if gpu:
        machine.gpus = [sample_runs.L4.model_copy(update={"name": gpu})]
    return machine


@pytest.mark.parametrize("machine, plan, seconds, refused", [
    # ResNet-50 at 32 x 224 images: 66 TFLOP/s in 0.01 s a step, 330 TFLOP/s in 0.002 s.
    (machine_with(cores=2), {}, 0.01, True),
    (machine_with(cpu_flags=("avx512f", "amx_tile", "amx_bf16"), cores=256), {"precision": "bf16"}, 0.01, False),
    (machine_with(cpu_flags=("avx512f",), cores=32), {}, 0.01, True),  # 32 x 64 x 6.2 GHz x 4 = 51 TFLOP/s
    (machine_with(gpu="NVIDIA H100 80GB HBM3"), {"device": "cuda", "precision": "bf16"}, 0.002, False),
    (machine_with(gpu="NVIDIA L4"), {"device": "cuda", "precision": "fp32"}, 0.01, False),  # 60 TF TF32 x 4
    (machine_with(gpu="NVIDIA L4"), {"device": "cuda", "precision": "fp32"}, 0.002, True),
    (machine_with(gpu="Some Future GPU 9000"), {"device": "cuda", "precision": "fp32"}, 0.002, False),  # global
    (machine_with(gpu="NVIDIA H100 80GB HBM3"), {"device": "cpu"}, 0.01, True),  # the CPU's bound for a CPU row
])
def test_each_row_is_held_against_its_claimed_hardware(machine, plan, seconds, refused):
    row = sample_runs.ok_row("resnet50v2_finetune", "torch", "baseline", [seconds] * 5,
                             plan=sample_runs.make_plan("torch", **plan))
    row.measured.train_flops_per_sample = None
    results = sample_runs.run([row], machine=machine)
    assert bool(plausibility.refusals(results)) == refused, plausibility.refusals(results)


def test_a_transformer_is_held_against_the_analytic_estimate():
    # GPT-2 small, 8 x 1024 tokens in 0.01 s: 654 TFLOP/s, an H100's work in bf16, not an L4's.
    h100, l4 = machine_with(gpu="NVIDIA H100 80GB HBM3"), machine_with(gpu="NVIDIA L4")
    plan = sample_runs.make_plan("torch", device="cuda", precision="bf16")
    for machine, refused in ((h100, False), (l4, True)):
        row = sample_runs.ok_row("gpt2_124m", "torch", "baseline", [0.01] * 5, plan=plan, batch_size=8,
                                 image_size=1024, train_flops=817e9)
        assert bool(plausibility.refusals(sample_runs.run([row], machine=machine))) == refused


def test_a_size_the_workload_cannot_take_is_refused():
    row = sample_runs.ok_row("vit_b16", "torch", "baseline", [1.0] * 5, image_size=64, train_flops=105e9)
    [problem] = plausibility.refusals(sample_runs.run([row]))
    assert problem == "rows.0.image_size: vit_b16 cannot take 64: it needs exactly 224 pixels"


def test_a_flop_count_far_from_the_servers_is_unverified():
    row = sample_runs.ok_row("mobilenetv3", "torch", "baseline", [2.5] * 5, train_flops=20.65e9)  # ResNet's count
    [reason] = plausibility.doubts(sample_runs.run([row]))
    assert reason == ("mobilenetv3 · torch · baseline: the run counts 20.65 GFLOP per sample, where this server "
                      "works out at least 1.265 for mobilenetv3 at 224 (expected 0.5x to 4x of that)")


def test_a_plugins_workload_is_held_against_the_fastest_device_with_its_own_count():
    from tests.plugins import fake_workloads  # noqa: F401  (registers tiny_cnn, as BATCHMARK_PLUGINS would)

    def tiny(seconds, flops):
        return forged("tiny_cnn", seconds, train_flops=flops, batch_size=4, image_size=16)

    assert plausibility.refusals(tiny(0.001, 1e6)) == []  # 4 GFLOP/s
    [problem] = plausibility.refusals(tiny(1e-10, 1e6))  # 40 PFLOP/s
    assert "more than the fastest known device can do (2.5 PFLOP/s" in problem
    assert plausibility.refusals(tiny(1e-10, None)) == []  # nothing to hold it against


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
    (lambda row: setattr(row.measured, "step_seconds", [1.0] * 1001), "1001 values, at most 1000 a row"),
    (lambda row: setattr(row.measured, "warmup_seconds", [1.0] * 1001), "warmup_seconds: 1001 values, at most 1000"),
    (lambda row: setattr(row.measured, "losses", [1.0] * 1001), "losses: 1001 values, at most 1000 a row"),
])
def test_inconsistent_rows_are_refused(change, message):
    run = sample_runs.standard_run()
    change(run.rows[0])
    problems = plausibility.refusals(run)
    assert any(message in problem for problem in problems), problems


def test_a_row_written_with_the_resampled_ci_is_accepted_and_a_made_up_ci_refused():
    """Results files written before the exact CI carry the interval of 10,000 seeded resamples: still theirs."""
    run = sample_runs.standard_run()
    row = run.rows[0]
    # Step times whose resampled interval is not the exact one (the two often agree: then nothing is tested)
    for seed in range(100):
        steps = [round(value, 4) for value in np.random.default_rng(seed).lognormal(1.0, 0.03, 8)]
        exact = summarize(steps)
        if resampled_median_ci(steps) != (exact.ci_low, exact.ci_high):
            break
    row.measured.step_seconds = steps
    row.statistics = summarize(steps)
    row.samples_per_second = row.batch_size / row.statistics.median
    low, high = resampled_median_ci(steps)
    assert (low, high) != (row.statistics.ci_low, row.statistics.ci_high)
    row.statistics.ci_low, row.statistics.ci_high = low, high
    assert plausibility.refusals(run) == []
    row.statistics.ci_low = low * 0.9
    assert any("statistics: ci_low do not match" in problem for problem in plausibility.refusals(run))


def test_an_unverified_run_is_stored_with_its_reasons_and_kept_off_the_leaderboard(client, token):
    # 0.4 TFLOP/s: possible on two cores (refusals() passes it), but twice the run's own calibrated peak.
    run = sample_runs.run([mobilenet([0.1, 0.101, 0.099, 0.1, 0.102])], calibration=sample_runs.calibration())
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
