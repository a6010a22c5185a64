"""`batchmark calibrate`, `batchmark tune` and `run --plan tuned`, end to end with real workers on a tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.helpers import batchmark

SIZES = ("--batch-size", "4", "--image-size", "16")


def test_calibrate_measures_each_precision_and_caches_it():
    first = batchmark("calibrate", "--json")
    assert first.returncode == 0, first.stderr
    calibration = json.loads(first.stdout)
    peaks = {(peak["device"], peak["precision"]): peak for peak in calibration["peaks"]}
    assert {("cpu", "fp32"), ("cpu", "bf16")} <= set(peaks)
    for peak in peaks.values():
        assert peak["flops_per_second"] > 0
        assert any(name.startswith("matmul") for name in peak["by_operation"])
        assert any(name.startswith("conv3x3") for name in peak["by_operation"])
        assert peak["flops_per_second"] == max(peak["by_operation"].values())
    assert calibration["conditions"]["others_cpu_share"] < 0.10  # measured quietly, or it would be refused
    again = batchmark("calibrate", "--json")
    assert json.loads(again.stdout) == calibration  # cached: not measured again
    assert "calibrating" not in again.stderr


def test_tune_then_run_with_the_tuned_plan(fake_workloads, tmp_path):
    # A budget every candidate fits in (a search stops when none is left), so that the plan is cached as complete;
    # a partial search is tuned again by the next `tune`, which test_search covers.
    tuned = batchmark("tune", "tiny_cnn", *SIZES, "--budget", "240s")
    assert tuned.returncode == 0, tuned.stderr
    assert "chosen:" in tuned.stdout and "tuning took" in tuned.stdout
    assert "not measured" in tuned.stdout  # the pruned switches are listed with their reasons
    assert "not tried" not in tuned.stdout, tuned.stdout
    cached = batchmark("tune", "tiny_cnn", *SIZES)
    assert "a tuned plan is cached" in cached.stderr and "chosen:" in cached.stdout

    output = tmp_path / "run.json"
    run = batchmark("run", "tiny_cnn", "--framework", "torch", "--plan", "baseline,tuned,accelerated", *SIZES,
                    "--quick", "--output", str(output), "--no-report")
    assert run.returncode == 0, run.stderr
    rows = json.loads(output.read_text())["rows"]
    named = {label: row for row in rows for label in (row["plan_label"], *row["also_labels"])}
    assert set(named) == {"baseline", "tuned", "accelerated"}
    # accelerated is the tuned plan once one is cached: one plan, measured once, under both names; and when the
    # tuner kept the plain framework (a tiny model's steps leave little to win), that is the baseline's row too
    assert named["accelerated"] is named["tuned"] and len(rows) == (1 if named["tuned"] is named["baseline"] else 2)
    assert named["tuned"]["plan_source"] == ("tuned" if named["tuned"]["plan_label"] == "tuned" else None)
    assert named["baseline"]["plan_source"] is None

    other_size = batchmark("run", "tiny_cnn", "--framework", "torch", "--plan", "accelerated", "--batch-size", "2",
                           "--image-size", "16", "--quick", "--output", str(output), "--no-report")
    assert other_size.returncode == 0, other_size.stderr
    (row,) = json.loads(output.read_text())["rows"]
    # Nothing tuned at this batch shape: measured in the run, never assumed, and the row says how it was chosen.
    assert row["plan_source"] == "screened" and row["notes"]


@pytest.mark.parametrize("args, message", [
    (["tune", "tiny_cnn", "--budget", "lots"], "--budget 'lots'"),
    (["tune", "tiny_cnn", "--budget", "0x"], "--budget '0x'"),
    (["tune", "resnet50"], "unknown workload 'resnet50'"),
    (["tune", "tiny_cnn", "--loss-tolerance", "2"], "--loss-tolerance 2.0"),
    (["tune", "mypkg.models:build", "--framework", "jax"], "PyTorch only"),
])
def test_bad_tune_input_is_one_line_and_exit_2(fake_workloads, args, message):
    result = batchmark(*args)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_every_option_reaches_a_user_model(fake_workloads, tmp_path, monkeypatch):
    """`tune module:function` goes through the library's tune(): --budget, --seed and --loss-tolerance all
    reach the process that tunes it (the old command line passed on only --loss-tolerance)."""
    seed_file = tmp_path / "seed"
    monkeypatch.setenv("USER_MODEL_SEED_FILE", str(seed_file))
    tuned = batchmark("tune", "tests.plugins.user_model:build", "--budget", "7s", "--seed", "3",
                      "--loss-tolerance", "0.2")
    assert tuned.returncode == 0, tuned.stderr
    assert "of a 7 s budget" in tuned.stdout and "chosen:" in tuned.stdout
    assert seed_file.read_text() == "3"
    cached = batchmark("tune", "tests.plugins.user_model:build")
    assert cached.returncode == 0, cached.stderr
    assert "a tuned plan is cached" in cached.stderr


@pytest.mark.parametrize("reference, message", [
    ("tests.plugins.nowhere:build", "cannot import 'tests.plugins.nowhere'"),
    ("tests.plugins.user_model:missing", "has no function 'missing'"),
    ("tests.plugins.user_model:not_a_model", "must return (model, loss_fn, example_batch[, optimizer])"),
])
def test_a_broken_user_model_is_one_line_and_exit_1(fake_workloads, reference, message):
    result = batchmark("tune", reference, "--budget", "5s")
    assert result.returncode == 1
    assert message in result.stderr and "Traceback" not in result.stderr


def test_sizes_do_not_apply_to_a_user_model(fake_workloads):
    result = batchmark("tune", "tests.plugins.user_model:build", "--batch-size", "4")
    assert result.returncode == 2
    assert "do not apply to your own model" in result.stderr


def test_a_calibration_on_a_busy_machine_is_refused_and_not_cached(tmp_path):
    """A peak measured beside another CPU-heavy process would make every % of peak too high."""
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1)  # let it take its core before the window opens
        refused = batchmark("calibrate", "--json")
    finally:
        busy.kill()
        busy.wait()
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert lines[-1].startswith("error: calibration refused, nothing cached: other processes used")
    assert "close them and run `batchmark calibrate` again" in lines[-1]
    quiet = batchmark("calibrate")  # nothing was cached: measured now, on the quiet machine
    assert quiet.returncode == 0, quiet.stderr
    assert "calibrating" in quiet.stderr and "of the CPU used by other processes" in quiet.stdout
