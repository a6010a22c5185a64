"""`batchmark run` end to end: real workers, real failures, results saved row by row."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from batchmark.results import load_results
from batchmark.store import open_history
from tests.helpers import batchmark


def run_json(tmp_path, *args, env=None):
    """`batchmark run` on PyTorch unless the test names frameworks (the test workloads are PyTorch only)."""
    output = tmp_path / "results.json"
    frameworks = () if "--framework" in args else ("--framework", "torch")
    result = batchmark("run", *args, *frameworks, "--output", str(output), env=env)
    return result, (load_results(output) if output.exists() else None)


def test_a_real_workload_runs_with_both_plans(tmp_path):
    # The static plan: fixed switches to check (the in-run search's choice is tests/api/test_in_run_tuning.py's).
    result, results = run_json(tmp_path, "style_transfer", "--quick", "--image-size", "32", "--steps", "3",
                               "--warmup", "1", "--plan", "baseline,static")
    assert result.returncode == 0, result.stderr
    assert [row.plan_label for row in results.rows] == ["baseline", "static"]
    for row in results.rows:
        assert row.status == "ok"
        assert len(row.measured.step_seconds) == 3 and len(row.measured.warmup_seconds) == 1
        assert row.statistics.median == sorted(row.measured.step_seconds)[1]
        assert row.measured.train_flops_per_sample > row.measured.forward_flops_per_sample > 0
        assert row.measured.peak_memory_bytes > 0
    baseline, accelerated = results.rows
    assert baseline.plan.compile == "off" and baseline.plan.precision == "fp32"
    assert accelerated.plan.channels_last is True
    assert accelerated.speedup_vs_baseline == pytest.approx(baseline.statistics.median / accelerated.statistics.median)
    assert results.machine.cpu.logical_cores >= 1
    assert "style_transfer" in result.stdout and "torch cpu fp32 compile=off contiguous" in result.stdout
    # Every run is also in the history, and drawn in a report beside its JSON.
    assert open_history().load(results.run_id).model_dump() == results.model_dump()
    assert f"report:  {tmp_path / 'results.html'}" in result.stderr


def test_json_output_is_the_results_file(tmp_path, fake_workloads):
    result = batchmark("run", "tiny_cnn", "--framework", "torch", "--plan", "baseline", "--quick", "--json",
                       "--output", str(tmp_path / "out.json"))
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed == json.loads((tmp_path / "out.json").read_text())
    assert printed["schema_version"] == 1


def test_failures_become_rows_and_the_suite_goes_on(tmp_path, fake_workloads):
    result, results = run_json(tmp_path, "tiny_cnn", "segfault", "oom", "broken", "hang", "tiny_cnn",
                               "--plan", "baseline", "--quick", "--timeout", "20")
    assert result.returncode == 1, result.stderr
    by_workload = [(row.workload, row.status, row.failure.kind if row.failure else None) for row in results.rows]
    assert by_workload == [
        ("tiny_cnn", "ok", None),
        ("segfault", "failed", "crash"),
        ("oom", "failed", "oom"),
        ("broken", "failed", "error"),
        ("hang", "failed", "timeout"),
        ("tiny_cnn", "ok", None),
    ]
    messages = {row.workload: row.failure.message for row in results.rows if row.failure}
    assert "segmentation fault" in messages["segfault"]
    assert "broken on purpose" in messages["broken"]
    assert "20 s" in messages["hang"]
    broken = next(row for row in results.rows if row.workload == "broken")
    assert "Traceback" in Path(broken.failure.log).read_text()  # the full story is kept beside the results
    assert "FAILED (crash)" in result.stdout and "FAILED (timeout)" in result.stdout


def test_a_plan_the_device_cannot_run_is_unsupported(tmp_path, fake_workloads):
    result, results = run_json(tmp_path, "tiny_cnn", "--plan", "precision=tf32", "--quick")
    assert result.returncode == 1
    (row,) = results.rows
    assert row.failure.kind == "unsupported" and "tf32" in row.failure.message


def test_a_switch_jax_cannot_honour_is_an_unsupported_row(tmp_path):
    result, results = run_json(tmp_path, "style_transfer", "--framework", "jax", "--plan", "threads=1", "--quick")
    assert result.returncode == 1
    (row,) = results.rows
    assert row.failure.kind == "unsupported" and "thread" in row.failure.message


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_or_kill_keeps_finished_rows(tmp_path, fake_workloads, stop):
    output = tmp_path / "results.json"
    (tmp_path / "tmp").mkdir()  # its own temporary directory, to see that nothing is left there
    parent = subprocess.Popen([sys.executable, "-m", "batchmark.cli", "run", "tiny_cnn", "hang", "tiny_cnn",
                               "--framework", "torch", "--plan", "baseline", "--quick", "--output", str(output)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
                              # As in a terminal: a test runner started in the background inherits an ignored SIGINT.
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if output.exists() and len(json.loads(output.read_text())["rows"]) == 1:
            break
        time.sleep(0.2)
    else:
        parent.kill()
        pytest.fail("the first row never finished")
    time.sleep(2)  # the hang worker is running now
    workers = psutil.Process(parent.pid).children(recursive=True)
    assert workers, "a worker should be running"
    parent.send_signal(stop)
    # After the signal the parent still saves the rows to the history and writes the report: seconds here,
    # but much longer while the rest of the suite loads this 2-core machine.
    parent.communicate(timeout=120)
    assert parent.returncode == (130 if stop == signal.SIGINT else 143)  # 128 + the signal, as a shell says it
    results = load_results(output)
    assert results.interrupted
    assert [(row.workload, row.status) for row in results.rows] == [("tiny_cnn", "ok"), ("hang", "failed")]
    assert results.rows[1].failure.kind == "interrupted"
    assert results.rows[1].failure.message == ("stopped by Ctrl-C" if stop == signal.SIGINT else "stopped by SIGTERM")
    kept = open_history().load(results.run_id)  # the history has the same rows, written as they finished
    assert kept.interrupted and kept.model_dump() == results.model_dump()
    assert output.with_suffix(".html").exists()  # and the report of what finished
    time.sleep(0.5)
    assert not [worker for worker in workers if worker.is_running() and worker.status() != psutil.STATUS_ZOMBIE]
    assert list((tmp_path / "tmp").glob("batchmark-*")) == []


def test_weights_file_is_loaded(tmp_path, fake_workloads):
    import torch

    from tests.plugins.fake_workloads import tiny_cnn_task

    task = tiny_cnn_task()
    good = tmp_path / "tiny.pt"
    torch.save(task.model.state_dict(), good)
    result, results = run_json(tmp_path, "tiny_cnn", "--plan", "baseline", "--quick", "--weights", str(good))
    assert result.returncode == 0, result.stderr

    bad = tmp_path / "bad.pt"
    torch.save({"not_a_layer.weight": torch.zeros(1)}, bad)
    result, results = run_json(tmp_path, "tiny_cnn", "--plan", "baseline", "--quick", "--weights", str(bad))
    assert result.returncode == 1
    assert results.rows[0].failure.kind == "error" and "state_dict" in results.rows[0].failure.message


def test_compiled_plan_reports_compile_time_apart(tmp_path, fake_workloads):
    """The one torch.compile test: a tiny CNN, so the compile costs seconds, not a minute."""
    result, results = run_json(tmp_path, "tiny_cnn", "--plan", "baseline", "--plan", "compile=default",
                               "--quick", "--steps", "5", "--warmup", "2")
    assert result.returncode == 0, result.stderr
    eager, compiled = results.rows
    assert eager.compile_seconds is None
    assert compiled.plan.compile == "default"
    # Compilation happens in the first warm-up step and stays out of the timed steps.
    assert compiled.measured.warmup_seconds[0] > 10 * compiled.statistics.median
    assert compiled.compile_seconds > 0.5
    assert max(compiled.measured.step_seconds) < compiled.measured.warmup_seconds[0] / 5


def test_three_frameworks_in_one_table(tmp_path):
    """TensorFlow and JAX through the same engine and schema; Keras never touches the user's ~/.keras."""
    environment = {key: value for key, value in os.environ.items() if key != "KERAS_HOME"}
    environment["HOME"] = str(tmp_path / "home")
    result, results = run_json(tmp_path, "style_transfer", "--framework", "torch,tensorflow,jax", "--plan",
                               "baseline", "--quick", "--image-size", "32", "--steps", "3", "--warmup", "1",
                               env=environment)
    assert result.returncode == 0, result.stderr
    assert [row.framework for row in results.rows] == ["torch", "tensorflow", "jax"]
    for row in results.rows:
        assert row.status == "ok" and len(row.measured.step_seconds) == 3
        assert row.measured.train_flops_per_sample > row.measured.forward_flops_per_sample > 0
        assert row.speedup_vs_baseline == 1.0  # each framework against its own baseline
    tensorflow, jax = results.rows[1:]
    assert tensorflow.plan.compile == "off" and tensorflow.plan.channels_last is True  # Keras's defaults
    assert jax.plan.compile == "xla"
    assert "keras" in tensorflow.measured.framework_version
    # FLOPs are counted by each framework from its own step, and agree.
    flops = [row.measured.train_flops_per_sample for row in results.rows]
    assert max(flops) / min(flops) < 1.02
    assert "fastest here is" in result.stdout
    assert not (tmp_path / "home" / ".keras").exists()
