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
    (cached,) = [cache.TunedPlan.model_validate_json(path.read_text()) for path in cache.directory().glob("*.json")]
    baseline_plan = next(other.plan for other in first.results.rows if other.plan_label == "baseline")
    # The short trials' winner, or the baseline when the run's two rows did not bear it out by 3%.
    assert cached.plan in (row.plan, baseline_plan)
    if cached.plan != row.plan:
        assert cached.plan == baseline_plan and cached.speedup == 1.0
    again = accelerated_row(second.results)
    assert again.plan == cached.plan
    assert again.plan_source == ("tuned" if again.plan_label == "accelerated" else None)


def test_the_static_plan_is_there_by_its_own_name_for_ablations(tmp_path, fake_workloads):
    outcome = batchmark.run_suite(["tiny_cnn"], ["torch"], ["static"], quick=True, output=tmp_path / "run.json",
                                  database=str(tmp_path / "h.sqlite"), report=False)
    (row,) = outcome.results.rows
    assert row.plan_source == "static" and row.plan_label == "static"
    assert outcome.results.screenings == []


def _row(label, plan, step):
    from batchmark.engine.runner import Job, make_row
    from batchmark.results import WorkerOutput
    output = WorkerOutput(setup_seconds=1.0, warmup_seconds=[step, step], step_seconds=[step] * 6,
                          losses=[1.0] * 6, peak_memory_bytes=1, memory_kind="rss", forward_flops_per_sample=None,
                          train_flops_per_sample=None, device_name="cpu", framework_version="x", threads=2)
    return make_row(Job("tiny_cnn", "torch", label, plan, 2, 16), output, None)


def test_the_runs_own_rows_decide_what_is_cached(tmp_path):
    """The short trials chose a plan; the run's two standard rows confirm it (cached with their speedup) or do
    not (the baseline is cached, so the next run does not show a plan that did not hold up)."""
    from batchmark.engine.runner import Job
    from batchmark.machine import Fingerprint
    from batchmark.plans import Plan
    from batchmark.tune.in_run import cache_after_rows
    from batchmark.tune.search import Candidate, Trial, TuneResult

    base, fast = Plan(), Plan(channels_last=True)
    for accelerated_step, expected in ((0.5, fast), (0.99, base)):
        baseline = Candidate(base, "eager", [Trial(base, [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], 5.0)])
        chosen = Candidate(fast, "eager", [Trial(fast, [0.5, 0.5], [1.0, 1.0], [0.5, 0.5], 5.0)], verdict="chosen")
        result = TuneResult(baseline=baseline, chosen=chosen, candidates=[baseline, chosen], pruned=[],
                            standard=None, tuning_seconds=10.0, budget_seconds=20.0)
        cached = cache_after_rows(result, Job("tiny_cnn", "torch", "accelerated", fast, 2, 16),
                                  _row("baseline", base, 1.0), _row("accelerated", fast, accelerated_step),
                                  Fingerprint(), min_gain=0.03)
        assert cached.plan == expected
        assert cached.measured_alike == (expected == fast)
        if expected == fast:
            assert cached.speedup == 2.0 and cached.speedup_ci[0] <= 2.0 <= cached.speedup_ci[1]
