"""The suite's budget, with a fake clock: rows are capped by their share of what is left, rows that cannot fit
are listed and not run, and the suite ends within its budget whatever the rows cost."""

from __future__ import annotations

import dataclasses

import pytest

from batchmark.engine.budget import FIRST_GUESS_OVERHEAD_SECONDS, SuiteBudget
from batchmark.engine.profiles import PROFILES
from batchmark.engine.runner import Job, SuiteRequest, make_row, run_suite
from batchmark.machine import Fingerprint
from batchmark.plans import Plan
from batchmark.results import ResultsFile, WorkerOutput

PROFILE = PROFILES["standard"]


class FakeMachine:
    """Rows on a fake clock: each costs a fixed part (start, build, warm-up) and steps of a fixed time, and stops
    at the precision target after `quiet_steps` steps, or at the allowance's cap when the row is noisy."""

    def __init__(self, fixed: dict[str, float], step: dict[str, float], noisy: set[str] = frozenset(),
                 quiet_steps: int = 5):
        self.fixed, self.step, self.noisy, self.quiet_steps = fixed, step, noisy, quiet_steps
        self.now = 0.0
        self.caps: list[tuple[str, float | None]] = []
        self.timeouts: list[float | None] = []

    def clock(self) -> float:
        return self.now

    def execute(self, job, request, workdir, on_progress, logs=None, allowance=None, rule=None):
        self.caps.append((job.workload, allowance.max_seconds))
        self.timeouts.append(allowance.timeout_seconds)
        step, cap = self.step[job.workload], allowance.max_seconds
        if cap is None:
            cap = request.profile.max_seconds
        count = self.quiet_steps
        if job.workload in self.noisy:  # the target is never met: steps until the cap
            count = max(request.profile.min_steps, int(cap // step) + 1)
        wall = self.fixed[job.workload] + count * step
        if allowance.timeout_seconds is not None and wall > allowance.timeout_seconds:
            self.now += allowance.timeout_seconds  # the worker is killed at its time-out
            from batchmark.results import Failure
            return make_row(job, None, Failure(kind="timeout", message="killed"))
        self.now += wall
        output = WorkerOutput(setup_seconds=1.0, warmup_seconds=[step, step], step_seconds=[step] * count,
                              losses=[1.0] * count, peak_memory_bytes=1, memory_kind="rss",
                              forward_flops_per_sample=None, train_flops_per_sample=None, device_name="cpu",
                              framework_version="x", threads=2)
        row = make_row(job, output, None)
        row.wall_seconds = wall
        return row


def suite(tmp_path, machine: FakeMachine, workloads: list[str], budget_seconds: float | None):
    request = SuiteRequest(workloads=workloads, frameworks=["torch"], plans=[], device="auto", profile=PROFILE)
    jobs = [Job(name, "torch", label, Plan(channels_last=label == "accelerated"), 1, 64)
            for name in workloads for label in ("baseline", "accelerated")]
    results = ResultsFile(batchmark_version="x", run_id="r", command=[], profile="standard", started_at="now",
                          machine=Fingerprint())
    budget = SuiteBudget(budget_seconds, clock=machine.clock)
    run_suite(request, jobs, results, tmp_path / "run.json", budget=budget, execute=machine.execute)
    return results


def test_an_ample_budget_runs_every_row_with_the_profiles_cap(tmp_path):
    machine = FakeMachine(fixed={"a": 10, "b": 10}, step={"a": 1.0, "b": 1.0})
    results = suite(tmp_path, machine, ["a", "b"], budget_seconds=3600)
    assert len(results.rows) == 4 and not results.not_run
    assert all(cap == PROFILE.max_seconds for _, cap in machine.caps)
    assert results.budget_seconds == 3600


def test_the_suite_ends_within_its_budget_and_names_the_rows_it_could_not_afford(tmp_path):
    # Four workloads of 2 rows, each row 30 s fixed + noisy steps: 8 rows cannot fit in 200 s.
    machine = FakeMachine(fixed=dict.fromkeys("abcd", 30.0), step=dict.fromkeys("abcd", 2.0), noisy=set("abcd"))
    results = suite(tmp_path, machine, list("abcd"), budget_seconds=200)
    assert machine.now <= 200
    assert results.rows and results.not_run
    assert len(results.rows) + len(results.not_run) == 8
    assert all("of the 3.33-minute budget left" in entry.reason for entry in results.not_run)
    assert all(row.status == "ok" for row in results.rows)  # nothing was started that could not finish


@pytest.mark.parametrize("budget_seconds", [90, 150, 400, 1000])
def test_any_budget_is_kept(tmp_path, budget_seconds):
    machine = FakeMachine(fixed={"a": 12, "b": 40, "c": 20}, step={"a": 0.5, "b": 4.0, "c": 1.5}, noisy={"b", "c"})
    results = suite(tmp_path, machine, ["a", "b", "c"], budget_seconds=budget_seconds)
    assert machine.now <= budget_seconds
    assert len(results.rows) + len(results.not_run) == 6


def test_a_row_that_reaches_its_precision_early_leaves_time_for_the_noisy_ones(tmp_path):
    quiet_first = FakeMachine(fixed=dict.fromkeys("ab", 10.0), step=dict.fromkeys("ab", 1.0), noisy={"b"})
    suite(tmp_path, quiet_first, ["a", "b"], budget_seconds=80)
    noisy_first = FakeMachine(fixed=dict.fromkeys("ab", 10.0), step=dict.fromkeys("ab", 1.0), noisy={"a", "b"})
    suite(tmp_path, noisy_first, ["a", "b"], budget_seconds=80)
    # b's rows come last in both runs; they may use more time when a's rows stopped early at their target.
    last_cap = dict(quiet_first.caps[-1:])["b"]
    assert last_cap > dict(noisy_first.caps[-1:])["b"]


def test_the_workers_time_out_is_what_is_left_of_the_budget(tmp_path):
    machine = FakeMachine(fixed={"a": 10}, step={"a": 1.0})
    suite(tmp_path, machine, ["a"], budget_seconds=100)
    assert machine.timeouts[0] == pytest.approx(100)
    assert machine.timeouts[1] < 100 - 10


def test_without_a_budget_nothing_is_capped_or_skipped(tmp_path):
    machine = FakeMachine(fixed={"a": 500}, step={"a": 1.0}, noisy={"a"})
    results = suite(tmp_path, machine, ["a"], budget_seconds=None)
    assert len(results.rows) == 2 and not results.not_run
    assert machine.caps == [("a", None), ("a", None)] and machine.timeouts == [None, None]


def test_the_first_guess_is_only_used_before_any_row_finished():
    budget = SuiteBudget(100, clock=lambda: 0.0)
    budget.start()
    assert budget.fixed_estimate("x") == FIRST_GUESS_OVERHEAD_SECONDS
    from batchmark.engine.budget import RowCost
    budget.record(RowCost("x", wall_seconds=40, timed_seconds=10, step_seconds=2))
    budget.record(RowCost("y", wall_seconds=100, timed_seconds=10, step_seconds=5))
    assert budget.fixed_estimate("x") == 30  # the same workload's own rows first
    assert budget.minimum_estimate("y", 5) == 90 + 25
    assert budget.fixed_estimate("z") == 60  # an unseen workload: the median of all rows


def test_a_search_too_poor_for_one_trial_gets_one_when_its_whole_share_covers_it():
    """Half a search's share is its allowance, unless that half cannot pay for one trial of one plan and the
    whole share can: a search that measures nothing is spent for nothing."""
    from batchmark.engine.budget import SHORT_TRIAL_STEPS, RowCost

    def allowance(budget_seconds: float, step: float) -> tuple[float, float]:
        budget = SuiteBudget(budget_seconds, clock=lambda: 0.0)
        budget.start()
        budget.record(RowCost("big", wall_seconds=20 + 5 * step, timed_seconds=5 * step, step_seconds=step))
        trial = 20 + SHORT_TRIAL_STEPS * step
        assert budget.trial_estimate("big") == trial and budget.trial_estimate("unseen") is None
        # Left for searches: the budget after two pending rows of "big" (each 20 s + 5 steps at least).
        spare = budget_seconds - 2 * (20 + 5 * step)
        return budget.screening_seconds("big", ["big", "big"], 1, 5), spare, trial

    seconds, spare, trial = allowance(budget_seconds=120, step=3.0)  # half the share (25 s) < one trial (26 s)
    assert spare / 2 < trial and seconds == pytest.approx(1.2 * trial) and seconds <= spare
    seconds, spare, trial = allowance(budget_seconds=400, step=3.0)  # half the share covers it: half it is
    assert seconds == pytest.approx(spare / 2)
    seconds, spare, trial = allowance(budget_seconds=95, step=3.0)  # not even the whole share covers one trial
    assert 1.2 * trial > spare and seconds == pytest.approx(spare / 2)
