"""`batchmark history`, `show`, `import`, `export`, `compare` and `report`, run as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from batchmark.results import load_results
from batchmark.store import default_database_path, open_history
from tests import sample_runs
from tests.helpers import batchmark


def write(run, path):
    run.write(path)
    return str(path)


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_the_default_history_is_in_the_user_data_directory(tmp_path):
    run = sample_runs.standard_run()
    assert batchmark("import", write(run, tmp_path / "run.json")).returncode == 0
    assert default_database_path().exists()  # under this test's XDG_DATA_HOME
    assert open_history(str(default_database_path())).runs()[0].run_id == run.run_id


def test_import_history_show_and_export_round_trip(tmp_path, database_url, monkeypatch):
    monkeypatch.setenv("BATCHMARK_DB", database_url)  # as a team would point every command at its server
    run = sample_runs.standard_run()
    imported = batchmark("import", write(run, tmp_path / "run.json"))
    assert imported.returncode == 0, imported.stderr
    assert f"imported run {run.run_id} (6 rows)" in imported.stderr
    again = batchmark("import", str(tmp_path / "run.json"))
    assert again.returncode == 0 and "already in the history" in again.stderr

    listed = json.loads(batchmark("history", "--json").stdout)
    assert [(entry["run_id"], entry["rows"], entry["failed"]) for entry in listed] == [(run.run_id, 6, 1)]

    shown = batchmark("show", run.run_id[:12])
    assert shown.returncode == 0, shown.stderr
    assert "resnet50v2_finetune" in shown.stdout and "9.9000 10.1000 9.8000" in shown.stdout
    assert "out-of-memory" in shown.stdout and "outlier" in shown.stdout and "bench-01" in shown.stdout

    exported = tmp_path / "exported.json"
    assert batchmark("export", "latest", "--output", str(exported)).returncode == 0
    assert load_results(exported).model_dump() == run.model_dump()


def test_history_filters(tmp_path):
    first = sample_runs.standard_run(hostname="workstation")
    second = sample_runs.run([sample_runs.ok_row("cyclegan", "torch", "baseline", [6.5, 6.6])], hostname="laptop")
    assert batchmark("import", write(first, tmp_path / "a.json"), write(second, tmp_path / "b.json")).returncode == 0
    by_machine = json.loads(batchmark("history", "--machine", "laptop", "--json").stdout)
    assert [entry["run_id"] for entry in by_machine] == [second.run_id]
    by_workload = json.loads(batchmark("history", "--workload", "mobilenetv3", "--json").stdout)
    assert [entry["run_id"] for entry in by_workload] == [first.run_id]
    table = batchmark("history").stdout
    assert "workstation" in table and "laptop" in table and "(1 failed)" in table


@pytest.mark.parametrize("content, expected", [
    ("{not json", "not JSON"),
    ('{"rows": []}', "not a batchmark results file"),
    ('{"schema_version": 99, "rows": []}', "schema version 99 is not supported"),
    ('{"schema_version": 1, "run_id": "x"}', "malformed results"),
])
def test_import_refuses_bad_files_in_one_line_and_keeps_the_good_ones(tmp_path, content, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    good = sample_runs.standard_run()
    result = batchmark("import", str(bad), write(good, tmp_path / "good.json"))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(bad) in errors[0] and expected in errors[0]
    assert [entry["run_id"] for entry in json.loads(batchmark("history", "--json").stdout)] == [good.run_id]


def test_a_corrupt_history_is_a_one_line_error_and_is_not_replaced(tmp_path):
    database = tmp_path / "history.sqlite"
    database.write_bytes(b"\x00garbage" * 512)
    for command in (["history"], ["show", "latest"], ["run", "--quick", "--framework", "torch", "mobilenetv3"]):
        result = batchmark(*command, "--db", str(database))
        assert result.returncode == 2, command
        line = one_line_error(result)
        assert str(database) in line and "not a SQLite database" in line
    assert database.read_bytes() == b"\x00garbage" * 512


def test_unknown_runs_are_one_line_errors(tmp_path):
    batchmark("import", write(sample_runs.standard_run(), tmp_path / "run.json"))
    assert "no run 'nope'" in one_line_error(batchmark("show", "nope"))
    assert "holds 1 run" in one_line_error(batchmark("compare", "latest~1", "latest"))


def slower_by(factor: float):
    rows = [sample_runs.ok_row("mobilenetv3", "torch", "baseline", [2.50 * factor, 2.52 * factor, 2.49 * factor,
                                                                    2.51 * factor, 2.50 * factor, 2.53 * factor]),
            sample_runs.ok_row("cyclegan", "torch", "baseline", [6.50, 6.55, 6.52, 6.48, 6.51, 6.50], train_flops=329e9)]
    return sample_runs.run(rows)


def test_compare_exits_1_on_a_significant_regression_and_says_why(tmp_path):
    before, after = slower_by(1.0), slower_by(1.3)
    batchmark("import", write(before, tmp_path / "a.json"), write(after, tmp_path / "b.json"))
    result = batchmark("compare", before.run_id, after.run_id)
    assert result.returncode == 1, result.stderr
    assert "1.30x slower" in result.stdout and "no change" in result.stdout

    data = json.loads(batchmark("compare", before.run_id, after.run_id, "--json").stdout)
    assert data["format"] == "batchmark.compare" and data["regressions"] == 1
    verdicts = {pair["workload"]: (pair["verdict"], round(pair["ratio"], 3)) for pair in data["pairs"]}
    assert verdicts == {"mobilenetv3": ("slower", 1.3), "cyclegan": ("no change", 1.0)}
    assert batchmark("compare", after.run_id, before.run_id).returncode == 0  # faster is not a failure


def test_compare_refuses_rows_measured_differently(tmp_path):
    small = sample_runs.run([sample_runs.ok_row("mobilenetv3", "torch", "baseline", [2.5, 2.6, 2.5], batch_size=16)])
    large = sample_runs.run([sample_runs.ok_row("mobilenetv3", "torch", "baseline", [5.0, 5.1, 5.0], batch_size=32)])
    batchmark("import", write(small, tmp_path / "a.json"), write(large, tmp_path / "b.json"))
    result = batchmark("compare", small.run_id, large.run_id)
    assert result.returncode == 2
    assert "batch size 16 vs 32" in result.stdout
    assert "no pair of rows that can be compared" in result.stderr


def test_compare_two_plans_and_bad_options(tmp_path):
    run = sample_runs.standard_run()
    batchmark("import", write(run, tmp_path / "run.json"))
    result = batchmark("compare", "latest", "latest", "--plans", "baseline:accelerated", "--json")
    pairs = json.loads(result.stdout)["pairs"]
    resnet = next(pair for pair in pairs if pair["workload"] == "resnet50v2_finetune")
    assert resnet["verdict"] == "faster" and resnet["plan_a"] == "baseline" and resnet["plan_b"] == "accelerated"
    assert "threshold" in one_line_error(batchmark("compare", "latest", "latest", "--threshold", "lots"))
    assert "A:B" in one_line_error(batchmark("compare", "latest", "latest", "--plans", "baseline"))
    assert "its plans: baseline, accelerated" in one_line_error(
        batchmark("compare", "latest", "latest", "--plans", "baseline:fast"))


def test_report_of_the_latest_run(tmp_path):
    run = sample_runs.standard_run()
    batchmark("import", write(run, tmp_path / "run.json"))
    output = tmp_path / "report.html"
    result = batchmark("report", "--output", str(output))
    assert result.returncode == 0, result.stderr
    assert str(output) in result.stderr
    assert run.run_id in output.read_text()


def test_two_runs_writing_to_one_history_at_once_both_succeed(tmp_path, fake_workloads):
    database = tmp_path / "shared.sqlite"
    command = [sys.executable, "-m", "batchmark.cli", "run", "tiny_cnn", "tiny_cnn", "tiny_cnn", "--framework", "torch",
               "--plan", "baseline", "--quick", "--no-report", "--db", str(database)]
    runs = [subprocess.Popen([*command, "--output", str(tmp_path / f"run{index}.json")], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for index in range(2)]
    for process in runs:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr
        assert "history: run" in stderr
    summaries = open_history(str(database)).runs()
    assert len(summaries) == 2 and all(summary.rows == 3 for summary in summaries)
    for index in range(2):
        saved = load_results(tmp_path / f"run{index}.json")
        assert open_history(str(database)).load(saved.run_id).model_dump() == saved.model_dump()


@pytest.mark.parametrize("make, expected", [
    (lambda text: text.replace('"hostname": "bench-01"', '"hostname": "bench-01", "serial": ' + "9" * 5000, 1),
     "integers in a results file are at most 9223372036854775807"),
    (lambda text: text.replace('"hostname": "bench-01"', '"hostname": "bench-01", "extra": ' + "[" * 300 + "]" * 300, 1),
     "nested more than 32 levels deep"),
])
def test_import_refuses_huge_integers_and_deep_nesting_in_one_line(tmp_path, make, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(make(sample_runs.standard_run().model_dump_json(indent=2)))
    result = batchmark("import", str(bad))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    line = one_line_error(result)
    assert str(bad) in line and expected in line


def test_export_writes_back_whatever_import_accepted(tmp_path):
    run = sample_runs.standard_run()
    run.machine.cpu.model_extra["nested"] = json.loads("[" * 29 + "]" * 29)  # 32 levels deep: as deep as import takes
    run.machine.model_extra["serial"] = 2**63 - 1
    assert batchmark("import", write(run, tmp_path / "run.json")).returncode == 0
    exported = batchmark("export", run.run_id, "--output", str(tmp_path / "out.json"))
    assert exported.returncode == 0, exported.stderr
    assert load_results(tmp_path / "out.json").machine.model_dump() == run.machine.model_dump()
