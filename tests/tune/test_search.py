"""The plan search, driven by a scripted measure and clock: which plan wins, what is rejected and why, and
that the budget and the guarantees hold whatever the measurements say."""

from __future__ import annotations

import dataclasses
import math

import pytest

from batchmark.plans import Plan
from batchmark.engine.profiles import PROFILES
from batchmark.tune.search import Search, SearchSettings, TuneFailed, Trial
from batchmark.tune.space import SearchSpace

BASE = Plan("torch")
CL = dataclasses.replace(BASE, channels_last=True)
BF16_CL = dataclasses.replace(CL, precision="bf16")
STANDARD = PROFILES["standard"]


class Scripted:
    """A measure whose step times and losses come from a table, and a clock that advances by each trial's cost."""

    def __init__(self, seconds: dict, losses: dict | None = None, standard: dict | None = None,
                 failures: dict | None = None, overhead: float = 5.0, compile_seconds: float = 20.0):
        self.seconds, self.losses, self.standard = seconds, losses or {}, standard or {}
        self.failures, self.overhead, self.compile_seconds = failures or {}, overhead, compile_seconds
        self.now, self.calls = 0.0, []

    def clock(self) -> float:
        return self.now

    def __call__(self, plan, rule, timeout, final):
        self.calls.append((plan, rule, timeout, final))
        if plan not in self.seconds and plan.compile != "off":  # a compile the table leaves out: 20% slower
            self.seconds[plan] = 1.2 * self.seconds[dataclasses.replace(plan, compile="off")]
        step = self.standard.get(plan, self.seconds[plan]) if final else self.seconds[plan]
        compile_seconds = self.compile_seconds if plan.compile != "off" else 0.0
        if plan in self.failures:
            self.now += self.overhead
            return Trial(plan, [], [], [], self.overhead, failure=self.failures[plan])
        steps = rule.min_steps
        gave_up = rule.give_up_above is not None and step > rule.give_up_above
        if gave_up:  # as the worker's timing loop does (tests/engine/test_timing.py): one step, then stop
            steps = 1
        cost = self.overhead + compile_seconds + (rule.warmup_steps + steps) * step
        if timeout is not None and cost > timeout:
            self.now += timeout
            return Trial(plan, [], [], [], timeout, failure=f"timeout: no result after {timeout:g} s; worker killed")
        self.now += cost
        losses = [self.losses.get(plan, 2.30)] * steps
        warmup = [step + compile_seconds] + [step] * (rule.warmup_steps - 1)  # the first warm-up step compiles
        return Trial(plan, [step] * steps, losses, warmup, cost,
                     stopped_by="clearly losing" if gave_up else None)


def space(eager=(BASE, CL), compile_modes=("default",)) -> SearchSpace:
    return SearchSpace(baseline=BASE, eager=list(eager), references=[BASE], compile_modes=list(compile_modes),
                       pruned=[("threads", "all cores already")])


def search(measure: Scripted, eager=(BASE, CL), compile_modes=("default",), **settings):
    return Search(space(eager, compile_modes), measure, SearchSettings(**settings), clock=measure.clock).run()


def by_plan(result, plan):
    return next(c for c in result.candidates if c.plan == plan)


def test_when_nothing_beats_the_baseline_the_baseline_is_the_answer():
    measure = Scripted({BASE: 1.0, CL: 1.3, dataclasses.replace(BASE, compile="default"): 1.5})
    result = search(measure, budget_factor=100)
    assert result.chosen.plan == BASE and result.speedup == 1.0
    assert by_plan(result, CL).verdict == "rejected"
    assert by_plan(result, dataclasses.replace(BASE, compile="default")).verdict == "rejected"
    assert not any(final for *_, final in measure.calls)  # no plan to confirm


def test_the_winner_is_re_measured_at_the_standard_step_count_before_it_is_chosen():
    compiled = dataclasses.replace(CL, compile="default")
    measure = Scripted({BASE: 1.0, CL: 0.8, compiled: 0.5})
    result = search(measure, budget_factor=100)
    assert result.chosen.plan == compiled
    finals = [(plan, rule) for plan, rule, timeout, final in measure.calls if final]
    assert [plan for plan, _ in finals] == [BASE, compiled, compiled, BASE]  # A B B A: drift hits both alike
    for _, rule in finals:  # the standard rule, its time cap and steps shared between the two processes
        assert (rule.warmup_steps, rule.target_precision) == (STANDARD.warmup_steps, STANDARD.target_precision)
        assert rule.max_seconds == STANDARD.max_seconds / 2 and 2 * rule.min_steps >= STANDARD.min_steps
    assert result.speedup == pytest.approx(2.0)
    assert result.standard is not None and result.chosen_seconds == pytest.approx(0.5)


def test_a_winner_of_short_trials_that_is_not_faster_at_the_standard_count_loses_to_the_baseline():
    # Short trials flatter channels_last; the standard measurement shows it only 1% faster: within min_gain.
    measure = Scripted({BASE: 1.0, CL: 0.7}, standard={CL: 0.99})
    result = search(measure, compile_modes=())
    assert result.chosen.plan == BASE
    assert "not 3% faster" in by_plan(result, CL).reason
    assert result.speedup == 1.0


@pytest.mark.parametrize("loss, verdict", [(math.nan, "rejected"), (math.inf, "rejected"), (2.30 * 1.2, "rejected"),
                                           (2.30 * 1.01, "chosen")])
def test_numerics_guard_rejects_a_faster_plan_whose_loss_diverges_from_fp32(loss, verdict):
    measure = Scripted({BASE: 1.0, BF16_CL: 0.5}, losses={BASE: 2.30, BF16_CL: loss})
    result = search(measure, eager=(BASE, BF16_CL), compile_modes=(), budget_factor=100)
    candidate = by_plan(result, BF16_CL)
    assert candidate.verdict == verdict
    if verdict == "rejected":
        assert candidate.reason.startswith("numerics: loss after 4 steps is")
        assert result.chosen.plan == BASE


def test_compile_is_tried_on_the_best_eager_plan_of_each_layout_best_first():
    """Style transfer here: channels_last won eagerly, but compiled it lost to compiled contiguous (1.07x faster
    than the baseline), which a search compiling only the best eager layout never tried."""
    compiled_cl, compiled_contiguous = (dataclasses.replace(plan, compile="default") for plan in (CL, BASE))
    measure = Scripted({BASE: 1.0, CL: 0.8, compiled_cl: 0.9, compiled_contiguous: 0.7})
    result = search(measure, budget_factor=100)
    compiled = [c.plan for c in result.candidates if c.stage == "compile"]
    assert compiled == [compiled_cl, compiled_contiguous]
    assert result.chosen.plan == compiled_contiguous


@pytest.mark.parametrize("compiled_seconds, chosen", [(0.79, "eager"), (0.70, "compiled")])
def test_a_switch_must_gain_more_than_the_noise_over_the_plan_without_it(compiled_seconds, chosen):
    """ResNet50V2 here: compiled bf16 + channels_last was 2.7% faster than eager in short trials and 6% slower at
    the standard count. Within min_gain the plan with fewer switches is kept; a clear gain keeps the switch."""
    compiled = dataclasses.replace(CL, compile="default")
    measure = Scripted({BASE: 1.0, CL: 0.80, compiled: compiled_seconds})
    result = search(measure, budget_factor=100)
    assert result.chosen.plan == (CL if chosen == "eager" else compiled)
    if chosen == "eager":
        assert by_plan(result, compiled).verdict == "rejected"
        assert "fewer switches" in by_plan(result, compiled).reason


def test_a_compile_that_fails_is_reported_and_the_best_working_plan_wins():
    compiled = dataclasses.replace(CL, compile="default")
    measure = Scripted({BASE: 1.0, CL: 0.8, compiled: 0.1}, failures={compiled: "error: InductorError: boom"})
    result = search(measure, budget_factor=100)
    assert by_plan(result, compiled).verdict == "failed"
    assert "InductorError" in by_plan(result, compiled).reason
    assert result.chosen.plan == CL


def test_the_budget_is_a_multiple_of_one_standard_measurement_and_is_kept():
    # 10 s steps and 5 s of process overhead: a standard measurement is 5 + (2 + 5 + 1) x 10 = 85 s.
    plans = {BASE: 10.0, CL: 9.0, dataclasses.replace(CL, compile="default"): 5.0}
    measure = Scripted(plans)
    result = search(measure)
    assert result.budget_seconds == pytest.approx(5 * 85.0)
    assert result.tuning_seconds <= result.budget_seconds
    # The compile's timeout is what was left after keeping back the two final standard measurements.
    compile_calls = [call for call in measure.calls if call[0].compile != "off" and not call[3]]
    assert compile_calls and all(call[2] is not None and call[2] < result.budget_seconds for call in compile_calls)


def test_when_the_budget_is_spent_compile_is_not_tried_and_says_why():
    measure = Scripted({BASE: 10.0, CL: 9.0, dataclasses.replace(CL, compile="default"): 5.0})
    result = search(measure, budget_seconds=120)
    (candidate,) = [c for c in result.candidates if c.stage == "compile"]
    assert candidate.verdict == "not tried" and "budget was spent" in candidate.reason
    assert result.tuning_seconds <= 120


def test_a_compile_longer_than_the_budget_left_is_cut_off():
    compiled = dataclasses.replace(CL, compile="default")
    measure = Scripted({BASE: 10.0, CL: 9.0, compiled: 200.0})  # 20 s compile + 3 x 200 s: far past the budget
    result = search(measure)
    assert by_plan(result, compiled).verdict == "failed"
    assert "over the tuning budget" in by_plan(result, compiled).reason
    assert result.tuning_seconds <= result.budget_seconds + 1e-9


def test_successive_halving_measures_the_faster_half_again():
    plans = [BASE, CL, BF16_CL, dataclasses.replace(BASE, precision="bf16"), dataclasses.replace(CL, threads=4)]
    times = dict(zip(plans, (1.0, 0.8, 0.6, 0.7, 0.88)))  # threads=4 slower, but not clearly losing (< 1.5x)
    measure = Scripted(times)
    result = search(measure, eager=plans, compile_modes=(), budget_factor=1000)
    slow = by_plan(result, dataclasses.replace(CL, threads=4))
    assert slow.verdict == "rejected" and slow.reason == "slower half in successive halving"
    assert len(by_plan(result, BF16_CL).trials) >= 2
    assert result.chosen.plan == BF16_CL


def test_a_baseline_that_fails_stops_the_tuning_with_its_reason():
    measure = Scripted({BASE: 1.0}, failures={BASE: "oom: out of memory"})
    with pytest.raises(TuneFailed, match="out of memory"):
        search(measure)


def test_a_budgeted_search_spends_no_more_than_its_budget_measuring_the_baseline():
    """A run's search whose row could not lend it the baseline's trial (the row ran over its time cap): that trial
    gets the search's budget as its time-out, and one that does not fit ends the search (it once ran up to the
    worker's 20-minute time-out: MLX's CycleGAN on the bundled BLAS, 4 minutes a step)."""
    measure = Scripted({BASE: 240.0, CL: 200.0})
    with pytest.raises(TuneFailed, match="timeout"):
        search(measure, confirm=False, budget_seconds=75.0)
    assert [timeout for _, _, timeout, _ in measure.calls] == [75.0] and measure.now == 75.0


def test_the_speedup_is_between_two_standard_measurements_not_a_short_baseline():
    """A CNN's first steps run slow, so the baseline's 2-step short trial is slower than its standard
    measurement; a speedup against it flatters the chosen plan (2.20x printed, 1.41x measured side by side)."""
    measure = Scripted({BASE: 3.0, CL: 1.5}, standard={BASE: 2.0, CL: 1.0})
    result = search(measure, compile_modes=(), budget_factor=100)
    assert result.chosen.plan == CL and result.measured_alike
    assert result.speedup == pytest.approx(2.0)  # 2.0 / 1.0; the short baseline would have said 3.0
    assert result.baseline_seconds == pytest.approx(2.0)
    low, high = result.speedup_ci
    assert low <= result.speedup <= high
    finals = [(plan, rule) for plan, rule, timeout, final in measure.calls if final]
    assert [plan for plan, _ in finals] == [BASE, CL, CL, BASE]  # alike, interleaved
    assert len({rule for _, rule in finals}) == 1
    assert len(result.standard_groups) == len(result.baseline_groups) == 2  # the CI is over both processes


def test_a_winner_that_only_beat_the_short_baseline_is_rejected():
    # 1.9 s beats the short baseline's 3.0 s but not the baseline's standard 1.9 s.
    measure = Scripted({BASE: 3.0, CL: 1.5}, standard={BASE: 1.9, CL: 1.9})
    result = search(measure, compile_modes=(), budget_factor=100)
    assert result.chosen.plan == BASE and result.speedup == 1.0 and not result.measured_alike
    assert "not 3% faster" in by_plan(result, CL).reason


def test_a_clearly_losing_candidate_is_dropped_after_one_step():
    slow = dataclasses.replace(BASE, precision="bf16")  # ranked first by the prior, and 3x slower here
    measure = Scripted({BASE: 1.0, CL: 0.8, slow: 3.0})
    result = search(measure, eager=(BASE, CL, slow), compile_modes=(), budget_factor=100)
    losing = by_plan(result, slow)
    assert losing.verdict == "rejected" and losing.reason.startswith("clearly losing")
    assert len(losing.samples) == 1  # stopped after its first timed step, not the short trial's two
    (rule,) = [rule for plan, rule, *_ in measure.calls if plan == slow]
    assert rule.give_up_above == pytest.approx(1.5)  # 1.5x the best median so far (the baseline's 1.0 s)
    assert result.chosen.plan == CL


def test_likeliest_gains_are_measured_first_so_a_tight_budget_reaches_them():
    measure = Scripted({BASE: 1.0, CL: 0.9, BF16_CL: 0.5})
    search(measure, eager=(BASE, CL, BF16_CL), compile_modes=(), budget_factor=100)
    order = [plan for plan, *_ in measure.calls]
    assert order.index(BF16_CL) < order.index(CL)


def test_a_search_inside_a_run_ranks_without_re_measuring_and_reuses_the_rows_baseline():
    measure = Scripted({BASE: 1.0, CL: 0.8})
    row_trial = Trial(BASE, [1.0, 1.0], [2.30, 2.30], [1.0, 1.0], 12.0)
    result = Search(space(compile_modes=()), measure, SearchSettings(confirm=False, budget_seconds=100),
                    clock=measure.clock).run(baseline_trial=row_trial)
    assert result.chosen.plan == CL and result.standard is None
    assert [plan for plan, *_ in measure.calls] == [CL]  # the baseline was not measured again
    assert not any(final for *_, final in measure.calls)


def test_a_search_inside_a_run_keeps_the_baseline_unless_the_winner_gains_enough():
    measure = Scripted({BASE: 1.0, CL: 0.99})
    result = Search(space(compile_modes=()), measure, SearchSettings(confirm=False, budget_seconds=100),
                    clock=measure.clock).run()
    assert result.chosen.plan == BASE
    assert "not 3% faster" in by_plan(result, CL).reason


def test_a_search_with_no_time_tries_nothing_and_says_so():
    measure = Scripted({BASE: 1.0, CL: 0.8})
    row_trial = Trial(BASE, [1.0, 1.0], [2.30, 2.30], [1.0, 1.0], 12.0)
    result = Search(space(compile_modes=()), measure, SearchSettings(confirm=False, budget_seconds=0.0),
                    clock=measure.clock).run(baseline_trial=row_trial)
    assert result.chosen.plan == BASE and measure.calls == []
    assert by_plan(result, CL).verdict == "not tried"


def test_a_speedup_that_drifts_between_processes_gets_a_ci_that_shows_it():
    """MobileNetV3's baseline measured 0.943 s in one process and 1.148 s in the next: one process a side gave a
    tight CI that a later run fell outside of. Two processes a side, and a CI over them, cover it."""
    steady = Scripted({BASE: 3.0, CL: 1.5}, standard={BASE: 2.0, CL: 1.0})
    calm = search(steady, compile_modes=(), budget_factor=100)

    class Drifting(Scripted):
        def __call__(self, plan, rule, timeout, final):
            trial = super().__call__(plan, rule, timeout, final)
            if final and plan == BASE and sum(1 for p, *_, f in self.calls if f and p == BASE) == 2:
                return dataclasses.replace(trial, step_seconds=[s * 1.2 for s in trial.step_seconds])
            return trial

    drifting = search(Drifting({BASE: 3.0, CL: 1.5}, standard={BASE: 2.0, CL: 1.0}), compile_modes=(),
                      budget_factor=100)
    calm_low, calm_high = calm.speedup_ci
    low, high = drifting.speedup_ci
    assert high - low > calm_high - calm_low  # the second process's 20% drift widens the interval
    assert low <= 2.0 and high >= 2.4  # and it spans both processes' speedups


def test_a_survivor_the_budget_cannot_measure_again_keeps_its_measurement_and_can_win():
    """Style transfer in a 15-minute run: bf16 + channels_last measured fastest (1.54 s), then the budget ran out
    before halving's second round, and it was marked not tried: bf16 (1.76 s) won instead."""
    plans = [BASE, CL, BF16_CL, dataclasses.replace(BASE, precision="bf16")]
    times = dict(zip(plans, (3.0, 2.6, 1.5, 1.8)))
    measure = Scripted(times, overhead=5.0)
    # Enough for the four short trials (5 + 4 x step each), not for a second round of the survivors.
    result = Search(space(eager=plans, compile_modes=()), measure,
                    SearchSettings(confirm=False, budget_seconds=45.0), clock=measure.clock).run(
        baseline_trial=Trial(BASE, [3.0, 3.0], [2.3, 2.3], [3.0, 3.0], 17.0))
    assert result.chosen.plan == BF16_CL
    assert by_plan(result, BF16_CL).verdict == "chosen"


def test_no_short_trial_runs_past_the_budget_whatever_it_costs():
    slow_start = dataclasses.replace(BASE, allocator="jemalloc")
    measure = Scripted({BASE: 1.0, CL: 0.9, slow_start: 0.8}, overhead=5.0)

    def measure_with_slow_start(plan, rule, timeout, final):
        if plan == slow_start:  # a worker that starts far slower than the baseline's did
            measure.overhead = 500.0
        try:
            return measure(plan, rule, timeout, final)
        finally:
            measure.overhead = 5.0

    settings = SearchSettings(confirm=False, budget_seconds=60.0)
    space_ = space(eager=(BASE, CL, slow_start), compile_modes=())
    result = Search(space_, measure_with_slow_start, settings, clock=measure.clock).run(
        baseline_trial=Trial(BASE, [1.0, 1.0], [2.3, 2.3], [1.0, 1.0], 9.0))
    assert result.tuning_seconds <= 60.0
    assert "over the tuning budget: still measuring" in by_plan(result, slow_start).reason


# -- runtime switches before compiles, and a search that goes on where an earlier one stopped -------------

TCMALLOC = dataclasses.replace(CL, allocator="tcmalloc")


def runtime_space(runtime=(("allocator", "tcmalloc"),)) -> SearchSpace:
    made = space()
    made.runtime = {"cpu": list(runtime)}
    return made


def test_runtime_switches_are_measured_before_compiles_and_a_winning_one_is_compiled_in():
    """On a cold compile cache the compiles, measured first, spent the budget: tcmalloc (1.06-1.45x on every CNN
    here) went untried in every cold search. Now it is measured first, and the compiler is tried on top of it."""
    compiled_tcmalloc = dataclasses.replace(TCMALLOC, compile="default")
    measure = Scripted({BASE: 1.0, CL: 0.8, TCMALLOC: 0.6, compiled_tcmalloc: 0.5})
    result = Search(runtime_space(), measure, SearchSettings(budget_factor=100), clock=measure.clock).run()
    order = [plan for plan, rule, timeout, final in measure.calls if not final]
    assert order.index(TCMALLOC) < min(order.index(plan) for plan in order if plan.compile != "off")
    assert compiled_tcmalloc in order
    assert result.chosen.plan == compiled_tcmalloc


def test_a_runtime_switch_within_the_noise_is_not_compiled_in():
    """A switch 1% faster in short trials has shown nothing: the compiler goes on the plan without it."""
    measure = Scripted({BASE: 1.0, CL: 0.8, TCMALLOC: 0.792})
    result = Search(runtime_space(), measure, SearchSettings(budget_factor=100), clock=measure.clock).run()
    compiled = [c.plan for c in result.candidates if c.stage == "compile"]
    assert dataclasses.replace(CL, compile="default") in compiled
    assert not any(plan.allocator == "tcmalloc" for plan in compiled)


def test_a_tight_budget_reaches_the_runtime_switch_before_the_compile():
    measure = Scripted({BASE: 10.0, CL: 9.0, TCMALLOC: 7.0})
    # After the baseline's and channels_last's short trials (45 s each), 68 s are left: one compile (5 s start, 20 s
    # compile, 4 steps of 10.8 s) or the runtime switch, not both.
    result = Search(runtime_space(), measure, SearchSettings(budget_seconds=158, confirm=False),
                    clock=measure.clock).run()
    assert by_plan(result, TCMALLOC).samples
    compiles = [c for c in result.candidates if c.stage == "compile"]
    assert compiles and all(c.verdict == "not tried" for c in compiles)


def test_a_compile_that_cannot_fit_what_is_left_is_not_started_once_the_search_has_compiled():
    """A cold compile took 60 s; with 43 s left the next one is not started, where it once ran into the
    budget's end and wasted those 43 s."""
    measure = Scripted({BASE: 1.0, CL: 0.9}, compile_seconds=60.0)
    result = search(measure, budget_seconds=130, confirm=False)
    first, second = [c for c in result.candidates if c.stage == "compile"]
    assert first.plan == dataclasses.replace(CL, compile="default") and first.samples
    assert second.verdict == "not tried" and "about 69 s" in second.reason
    assert second.plan not in [plan for plan, *_ in measure.calls]
    assert measure.now < 90  # the search ended when nothing more fitted, not at the budget's end


def test_a_search_goes_on_where_an_earlier_one_stopped():
    """`tune` after a run's partial search: what was measured is not measured again (the baseline excepted: it sets
    the budget), a compile that the earlier budget cut off is tried again, and the winner is still re-measured
    at the standard step count beside the baseline."""
    compiled = dataclasses.replace(CL, compile="default")
    earlier = {
        BASE: [Trial(BASE, [1.0, 1.0], [2.3, 2.3], [1.0, 1.0], 9.0)],
        CL: [Trial(CL, [0.8, 0.8], [2.3, 2.3], [0.8, 0.8], 8.0)],
        compiled: [Trial(compiled, [], [], [], 30.0, failure="timeout: no result after 30 s; worker killed")],
    }
    measure = Scripted({BASE: 1.0, CL: 0.8, compiled: 0.5})
    result = Search(space(), measure, SearchSettings(budget_factor=100), clock=measure.clock,
                    earlier=earlier).run()
    short = [plan for plan, rule, timeout, final in measure.calls if not final]
    assert CL not in short  # measured by the earlier search
    assert short.count(BASE) == 1 and compiled in short
    assert by_plan(result, CL).samples == [0.8, 0.8]
    assert result.chosen.plan == compiled and result.measured_alike


def test_an_earlier_failure_or_clearly_losing_trial_keeps_its_verdict():
    slow = dataclasses.replace(BASE, precision="bf16")
    earlier = {CL: [Trial(CL, [], [], [], 5.0, failure="oom: out of memory")],
               slow: [Trial(slow, [9.0], [2.3], [9.0], 20.0, stopped_by="clearly losing")]}
    measure = Scripted({BASE: 1.0, CL: 0.8, slow: 9.0})
    result = Search(space(eager=(BASE, CL, slow), compile_modes=()), measure, SearchSettings(budget_factor=100),
                    clock=measure.clock, earlier=earlier).run()
    assert [plan for plan, *_ in measure.calls] == [BASE]
    assert by_plan(result, CL).verdict == "failed" and "out of memory" in by_plan(result, CL).reason
    assert by_plan(result, slow).verdict == "rejected" and "clearly losing" in by_plan(result, slow).reason
    assert result.chosen.plan == BASE


def test_thread_and_optimizer_switches_come_after_the_compiles_on_the_best_plan_so_far():
    """OpenMP's wait policy and binding and Adam's implementation were level with the default or slower on every
    workload here: a budget is better spent on a compile first. They are then tried on the best plan so far."""
    compiled = dataclasses.replace(TCMALLOC, compile="default")
    active = dataclasses.replace(compiled, omp_wait="active")
    measure = Scripted({BASE: 1.0, CL: 0.8, TCMALLOC: 0.6, compiled: 0.5, active: 0.45})
    result = Search(runtime_space((("allocator", "tcmalloc"), ("omp_wait", "active"))), measure,
                    SearchSettings(budget_factor=100), clock=measure.clock).run()
    order = [plan for plan, rule, timeout, final in measure.calls if not final]
    assert order.index(TCMALLOC) < order.index(compiled) < order.index(active)
    assert dataclasses.replace(CL, omp_wait="active") not in order  # not on the eager plan: on the best so far
    assert result.chosen.plan == active


# -- a runtime switch close to its plan gets a second process ----------------------------------------------

JEMALLOC = dataclasses.replace(BASE, allocator="jemalloc")


class PerProcess(Scripted):
    """Short trials whose step time changes from one process of a plan to the next, as a median drifts here."""

    def __init__(self, processes: dict, **kwargs):
        super().__init__({plan: times[0] for plan, times in processes.items()}, **kwargs)
        self.processes = processes

    def __call__(self, plan, rule, timeout, final):
        if not final and plan in self.processes:
            done = sum(1 for called, *_, was_final in self.calls if called == plan and not was_final)
            self.seconds[plan] = self.processes[plan][min(done, len(self.processes[plan]) - 1)]
        return super().__call__(plan, rule, timeout, final)


def jemalloc_search(processes: dict, **settings):
    made = space(eager=(BASE,), compile_modes=())
    made.runtime = {"cpu": [("allocator", "jemalloc"), ("allocator", "tcmalloc")]}
    measure = PerProcess(processes, standard={BASE: 0.753, JEMALLOC: 0.704})
    return Search(made, measure, SearchSettings(budget_factor=100, **settings), clock=measure.clock).run(), measure


def test_a_switch_one_process_ranked_slower_within_the_drift_gets_a_second_process_and_can_win():
    """TensorFlow's MobileNetV3: one process ranked jemalloc 1.12x slower than the baseline (0.772 s against
    0.689 s), standard rows measured it 1.07x faster, and the search kept the baseline. A second process of each
    in the reverse order, pooled with the first, ranks them as the standard measurement does."""
    tcmalloc = dataclasses.replace(BASE, allocator="tcmalloc")
    processes = {BASE: [0.689, 0.78], JEMALLOC: [0.772, 0.62], tcmalloc: [1.2]}
    result, measure = jemalloc_search(processes)
    short = [plan for plan, rule, timeout, final in measure.calls if not final]
    assert short == [BASE, JEMALLOC, tcmalloc, JEMALLOC, BASE]  # tcmalloc, 1.7x slower, is decided by one
    assert result.chosen.plan == JEMALLOC and result.measured_alike
    assert by_plan(result, JEMALLOC).samples == [0.772, 0.772, 0.62, 0.62]

    one_process, _ = jemalloc_search(processes, recheck_within=0.0)  # as the search was
    assert one_process.chosen.plan == BASE


def test_a_recheck_the_budget_cannot_cover_leaves_the_first_process_standing():
    processes = {BASE: [0.689, 0.78], JEMALLOC: [0.772, 0.62]}
    made = space(eager=(BASE,), compile_modes=())
    made.runtime = {"cpu": [("allocator", "jemalloc")]}
    measure = PerProcess(processes, overhead=5.0)
    # The baseline's trial (5 s + 4 steps) and jemalloc's fit, a second one of each does not.
    result = Search(made, measure, SearchSettings(budget_seconds=17.0, confirm=False), clock=measure.clock).run()
    assert [plan for plan, *_ in measure.calls] == [BASE, JEMALLOC]
    assert result.tuning_seconds <= 17.0
    assert by_plan(result, JEMALLOC).samples == [0.772, 0.772] and result.chosen.plan == BASE
