"""A run whose accelerated plan nothing cached: chosen by measuring in the run, shown as such, cached after."""

from __future__ import annotations

import batchmark
from batchmark.tune import cache


def accelerated_row(results):
    (row,) = [row for row in results.rows if "accelerated" in (row.plan_label, *row.also_labels)]
    return row


def test_with_nothing_cached_the_accelerated_plan_is_measured_in_the_run_then_cached(tmp_path, fake_workloads):
    first = batchmark.run_suite(["tiny_cnn"], ["torch"], ["baseline,accelerated"], quick=True,
                                output=tmp_path / "first.json", database=str(tmp_path / "h.sqlite"), report=False)
    (screening,) = first.results.screenings
    assert (screening.workload, screening.framework) == ("tiny_cnn", "torch")
    assert screening.candidates and screening.seconds > 0
    row = accelerated_row(first.results)
    assert row.status == "ok"
    assert all(other.plan_source != "static" for other in first.results.rows)  # never a guess
    if row.plan_label == "accelerated":  # a plan beat the baseline in the short trials: its own row
        assert row.plan_source == "screened" and row.plan == screening.chosen
        assert "chosen in this run by short trials" in row.notes[0]
    else:  # nothing did: the baseline's row stands for both names, and says why
        assert row.plan_label == "baseline" and screening.chosen == row.plan
        assert any("nothing measured faster" in note for note in row.notes)
    assert len(list(cache.directory().glob("*.json"))) == 1  # the search was complete: cached

    second = batchmark.run_suite(["tiny_cnn"], ["torch"], ["baseline,accelerated"], quick=True,
                                 output=tmp_path / "second.json", database=str(tmp_path / "h.sqlite"), report=False)
    assert second.results.screenings == []  # the cached plan is used, not searched again
    again = accelerated_row(second.results)
    assert again.plan == row.plan
    assert again.plan_source == ("tuned" if again.plan_label == "accelerated" else None)


def test_the_static_plan_is_there_by_its_own_name_for_ablations(tmp_path, fake_workloads):
    outcome = batchmark.run_suite(["tiny_cnn"], ["torch"], ["static"], quick=True, output=tmp_path / "run.json",
                                  database=str(tmp_path / "h.sqlite"), report=False)
    (row,) = outcome.results.rows
    assert row.plan_source == "static" and row.plan_label == "static"
    assert outcome.results.screenings == []
