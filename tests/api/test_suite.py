"""`batchmark.run_suite` and friends from Python: typed results, news through Events, the same checks as the CLI."""

from __future__ import annotations

import subprocess
import sys

import pytest

import batchmark
from batchmark.api import EXPORTS, Events
from batchmark.errors import EXIT_USAGE, BatchmarkError, UnknownNameError, UsageError
from batchmark.results import load_results


class Recorder(Events):
    def __init__(self):
        self.seen = []

    def suite_started(self, jobs):
        self.seen.append(("suite", [job.plan_label for job in jobs]))

    def row_started(self, index, job):
        self.seen.append(("start", index, job.plan_label))

    def row_finished(self, row):
        self.seen.append(("row", row.plan_label, row.status))


def test_a_suite_from_python_returns_typed_results_and_tells_its_progress(tmp_path, fake_workloads):
    events = Recorder()
    database = str(tmp_path / "history.sqlite")
    outcome = batchmark.run_suite(["tiny_cnn"], ["torch"], ["baseline", "baseline,threads=1"], quick=True,
                                  output=tmp_path / "run.json", database=database, command=["notebook"],
                                  events=events)
    assert not outcome.interrupted and outcome.failed_rows == 0
    assert [row.plan_label for row in outcome.results.rows] == ["baseline", "baseline,threads=1"]
    assert outcome.results.rows[1].plan.threads == 1 and outcome.results.rows[0].statistics.median > 0
    assert events.seen == [("suite", ["baseline", "baseline,threads=1"]),
                           ("start", 0, "baseline"), ("row", "baseline", "ok"),
                           ("start", 1, "baseline,threads=1"), ("row", "baseline,threads=1", "ok")]
    assert load_results(outcome.path).run_id == outcome.results.run_id  # the file holds what was returned
    assert outcome.report_path.read_text().startswith("<!DOCTYPE html>")
    assert outcome.history_location and outcome.results.command == ["notebook"]

    comparison = batchmark.compare_runs(outcome.results.run_id, "latest", plans=("baseline", "baseline,threads=1"),
                                   database=database)
    (pair,) = comparison.pairs
    assert pair.status == "compared" and pair.plan_differences == {"threads": (None, 1)}
    report = batchmark.write_report(["latest"], tmp_path / "again.html", title="from Python", database=database)
    assert "from Python" in report.read_text()


def test_bad_input_raises_a_usage_error_before_any_work(tmp_path, fake_workloads):
    with pytest.raises(UnknownNameError, match="Did you mean 'tiny_cnn'") as raised:
        batchmark.run_suite(["tiny_cn"], ["torch"], output=tmp_path / "run.json")
    assert raised.value.exit_code == EXIT_USAGE
    with pytest.raises(UsageError, match="--batch-size must be a positive integer"):
        batchmark.run_suite(["tiny_cnn"], ["torch"], batch_size=0)
    with pytest.raises(UsageError, match="--budget 'soon'"):
        batchmark.tune_workloads(["tiny_cnn"], budget="soon")
    assert not (tmp_path / "run.json").exists()


def test_every_library_error_is_a_batchmark_error_with_an_exit_code():
    import batchmark.errors as errors

    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, Exception)]
    assert len(classes) >= 10
    for error in classes:
        assert issubclass(error, BatchmarkError), error
        assert error.exit_code in (errors.EXIT_FAILED, errors.EXIT_USAGE, errors.EXIT_INTERRUPTED,
                                   errors.EXIT_TERMINATED), error


def test_the_api_names_resolve_and_import_batchmark_starts_no_framework():
    # Twice, the second time after every subpackage is imported: a function named like a submodule (say
    # `batchmark.tune`) would be the function once and the module ever after.
    code = ("import sys, batchmark\n"
            f"names = {sorted(EXPORTS) + ['accelerate']!r}\n"
            "assert all(callable(getattr(batchmark, name)) for name in names if name != 'accelerate')\n"
            "import batchmark.api.suite, batchmark.api.tuning, batchmark.api.runs, batchmark.api.upload\n"
            "import batchmark.api.availability, batchmark.report, batchmark.compare, batchmark.tune.cache\n"
            "assert all(callable(getattr(batchmark, name)) for name in names if name != 'accelerate'), names\n"
            "print(sorted({'torch', 'tensorflow', 'jax'} & set(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
