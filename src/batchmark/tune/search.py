"""Finding the fastest plan by measuring it, within a budget.

The search is independent of how a plan is measured: it is handed a `measure(plan, rule, timeout)` that
runs a plan for a few steps and returns a Trial, a worker subprocess for `batchmark tune`, the same process
for `accelerate()`. It proceeds cheapest first:

1. the baseline, short: its step time sets the budget (a multiple of one standard measurement);
2. every eager variant the search space kept, short (compiling nothing), then successive halving: the
   better half gets more steps;
3. each kernel-library and allocator switch (allocator, oneDNN, MLX's BLAS) on its own on the best eager plan:
   they compile nothing, and on a cold compile cache the compiles used to spend the budget first (tcmalloc,
   1.06-1.45x on every CNN here, went untried in every cold search while compiles lost or tied). A switch that
   one process put close to the plan (within 20%, either way) is measured in a second process, and so is the
   plan: one process of each cannot rank a 7% gain against a median that drifts up to 20% between processes;
4. the compiler, on the best uncompiled plan of each memory layout, a winning switch of 3 included (compiles
   cost tens of seconds here), with a timeout of what is left of the budget; then the other runtime switches
   (OpenMP's wait policy and binding, Adam's implementation, the attention kernel), each on its own on the best
   plan so far: they were level with the default or slower on every workload here, so they come last (a close
   one gets its second process too);
5. the fastest plan whose losses agree with fp32 is re-measured at the standard step count, alongside
   the baseline measured the same way, in two processes each in the order A B B A: short trials only rank
   plans (their first steps run slow, so a short baseline flatters every speedup), and a plan's median drifts
   between processes, so the speedup reported is between the pooled standard measurements, with a bootstrap
   CI over processes and steps. The plan replaces the baseline only if it beats the baseline's standard
   measurement by more than `min_gain`: ties, and anything the noise could explain, go to the plain
   framework. The tuned plan is never slower than baseline by construction, only ever by noise.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

from batchmark.plans import Plan
from batchmark.errors import TuneFailed
from batchmark.engine.budget import SHORT_TRIAL_STEPS
from batchmark.engine.profiles import PROFILES, Profile
from batchmark.engine.stats import grouped_median_ratio_ci, median_ratio_ci, warmup_above_steady
from batchmark.engine.timing import StopRule
from batchmark.tune.numerics import loss_gap
from batchmark.tune.space import KERNEL_SWITCHES, LATER_SWITCHES, SearchSpace


@dataclass(frozen=True)
class Trial:
    """One short or standard measurement of one plan."""

    plan: Plan
    step_seconds: list[float]
    losses: list[float]  # after each timed step; the same step indices in every trial of one rule
    warmup_seconds: list[float]
    wall_seconds: float  # the whole measurement: process start, build, warm-up, steps
    failure: str | None = None  # one line, when the plan failed to run
    stopped_by: str | None = None  # "clearly losing" when a step was so slow that the trial gave up

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.step_seconds)


class Measure(Protocol):
    def __call__(self, plan: Plan, rule: StopRule, timeout: float | None, final: bool) -> Trial: ...


# "measured" is a candidate still in the running; the search ends with every one chosen, rejected, failed or
# not tried (the budget ran out before it).
CandidateVerdict = Literal["chosen", "rejected", "failed", "not tried", "measured"]


@dataclass
class Candidate:
    plan: Plan
    stage: str  # "eager", "compile" or "standard"
    trials: list[Trial] = field(default_factory=list)
    verdict: CandidateVerdict = "measured"
    reason: str = ""

    @property
    def samples(self) -> list[float]:
        return [seconds for trial in self.trials if trial.ok for seconds in trial.step_seconds]

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None


@dataclass(frozen=True)
class SearchSettings:
    # Short trials: the standard profile's two warm-ups (the first compiles and allocates, the second
    # catches a recompile and the allocator's second pass; after one, the first timed step of a CNN here
    # ran up to 40% slow) and two timed steps. Two steps cannot give a CI, but they rank plans whose times
    # differ by more than the noise, which is what halving needs.
    short_warmup: int = 2
    short_steps: int = SHORT_TRIAL_STEPS
    more_steps: int = 2  # what each survivor of a halving round adds
    standard: Profile = PROFILES["standard"]
    # Tuning may cost this many standard measurements of one plan: the baseline and the winner measured alike in
    # two processes each take about three (each process has its own start and warm-up), so 5x leaves about two
    # for the search itself.
    budget_factor: float = 5.0
    budget_seconds: float | None = None  # an absolute budget instead of the factor
    # A compile is tried only if the budget left covers a short trial plus what a compile costs: this much until
    # the search has compiled once, then what its last compile took. torch.compile from its warm on-disk cache
    # took 5-23 s per model here, XLA 17-106 s, a cold torch.compile 40-100 s; whether the cache is warm cannot be
    # told beforehand. A compile that runs longer is cut off by the trial's timeout, what is left of the budget.
    compile_estimate_seconds: float = 10.0
    min_gain: float = 0.03  # a plan must beat the baseline by 3% at the standard count to replace it
    # A short trial whose timed step is this many times the best median so far stops there: it is clearly losing
    # (XLA's 6x slower MobileNetV3 step need not be timed twice to be ranked last).
    clearly_losing: float = 1.5
    # Re-measure the baseline and the winner at the standard step count (`batchmark tune`). A run that tunes its
    # accelerated plan itself does not: its two rows are those standard measurements.
    confirm: bool = True
    # The baseline and the winner are re-measured in this many processes each, in the order A B B A: a plan's
    # median drifts from one process to the next (up to ~20% on MobileNetV3 here), and a speedup between one
    # process of each, however many steps, has a CI that cannot show it. The CI is over processes and steps.
    confirm_rounds: int = 2
    compile: bool = True  # try the compiler (off in quick runs, whose rows compile nothing)
    # Try each runtime switch (allocator, OpenMP, Adam's implementation, oneDNN) on the best plan. They are set in
    # a worker's environment before the framework loads: accelerate(), which tunes in the user's process, cannot.
    runtime: bool = True
    # A runtime switch whose first process put it within this much of the plan it was tried on, faster or slower,
    # gets a second process, and so does that plan: a plan's median drifts between processes (up to ~20% on
    # MobileNetV3 here), and one process of each ranked TensorFlow's jemalloc 1.12x slower on MobileNetV3 where
    # standard rows measured it 1.07x faster. A switch further off is decided by its one process.
    recheck_within: float = 0.2
    loss_tolerance: float = 0.05  # relative gap of the loss after the short trial's steps against fp32


@dataclass
class TuneResult:
    baseline: Candidate
    chosen: Candidate
    candidates: list[Candidate]
    pruned: list[tuple[str, str]]  # (switch, why it was not measured)
    standard: Trial | None  # the chosen plan at the standard step count (None: the baseline was chosen outright)
    tuning_seconds: float
    budget_seconds: float
    # The baseline at the standard step count, measured alongside `standard`: the other side of the speedup.
    baseline_standard: Trial | None = None
    # Each process's steps, when the confirmation took several (`standard` and `baseline_standard` pool them).
    standard_groups: list[list[float]] = field(default_factory=list)
    baseline_groups: list[list[float]] = field(default_factory=list)

    @property
    def measured_alike(self) -> bool:
        """Whether the speedup is between two standard measurements (else nothing beat the baseline's screening)."""
        return self.standard is not None and self.baseline_standard is not None

    @property
    def speedup(self) -> float:
        """Baseline median / chosen median at the standard step count: > 1 is faster; 1 when the baseline won."""
        if not self.measured_alike:
            return 1.0
        return statistics.median(self.baseline_standard.step_seconds) / statistics.median(self.standard.step_seconds)

    @property
    def speedup_ci(self) -> tuple[float, float] | None:
        """The speedup's 95% bootstrap CI: over processes and steps when the confirmation took several processes,
        else over steps, as `batchmark compare` computes a ratio's."""
        if not self.measured_alike:
            return None
        if self.standard_groups and self.baseline_groups:
            _, low, high = grouped_median_ratio_ci(self.standard_groups, self.baseline_groups)
        else:
            _, low, high = median_ratio_ci(self.standard.step_seconds, self.baseline_standard.step_seconds)
        return low, high

    @property
    def baseline_seconds(self) -> float:
        """The baseline's median: at the standard step count when measured alike, else from its short trials."""
        return statistics.median(self.baseline_standard.step_seconds) if self.measured_alike else self.baseline.median

    @property
    def chosen_seconds(self) -> float:
        return statistics.median(self.standard.step_seconds) if self.standard else self.baseline.median


def pooled(trials: list[Trial]) -> Trial:
    """Several processes' measurements of one plan as one: their steps together; failed if any failed."""
    failed = next((trial for trial in trials if not trial.ok), None)
    if failed is not None:
        return failed
    return Trial(plan=trials[0].plan, step_seconds=[s for t in trials for s in t.step_seconds],
                 losses=[loss for t in trials for loss in t.losses],
                 warmup_seconds=[s for t in trials for s in t.warmup_seconds],
                 wall_seconds=sum(t.wall_seconds for t in trials))


def reusable(trial: Trial) -> bool:
    """Whether an earlier search's trial still says something: a time-out says only what that budget was."""
    return trial.ok or not (trial.failure or "").startswith("timeout")


def standard_seconds(step: float, overhead: float, rule: Profile | StopRule) -> float:
    """What one measurement of a plan with this step time costs under `rule` (a profile's, or one confirming
    process's): process and build, warm-up, the timed steps, and about one more step's work for its FLOPs."""
    # At worst the row runs to its time cap without reaching its precision target.
    timed = max(rule.min_seconds, rule.max_seconds or 0.0)
    steps = min(rule.max_steps, max(rule.min_steps, math.ceil(timed / step)))
    return overhead + (rule.warmup_steps + steps + 1) * step


class Search:
    def __init__(self, space: SearchSpace, measure: Measure, settings: SearchSettings = SearchSettings(),
                 clock: Callable[[], float] = time.monotonic, say: Callable[[str], None] = lambda line: None,
                 earlier: dict[Plan, list[Trial]] | None = None):
        """`earlier`: the short trials an unfinished search of the same key measured, per plan. The search takes
        them in place of measuring again (a cold search here could afford 5 of 13 plans; run again, it goes on
        where it stopped). Trials cut off by that search's budget are not among them: they are tried again."""
        self.space, self.measure, self.settings, self.clock, self.say = space, measure, settings, clock, say
        self.earlier = {plan: [trial for trial in trials if reusable(trial)]
                        for plan, trials in (earlier or {}).items() if plan != space.baseline}
        self.short_rule = StopRule(settings.short_warmup, 0.0, settings.short_steps, settings.short_steps)
        self.candidates: list[Candidate] = []
        self.compile_seconds: float | None = None  # what this search's last compile took (at least)

    # -- budget ------------------------------------------------------------------------------------
    def _spent(self) -> float:
        return self.clock() - self.started

    def _left(self) -> float:
        return self.budget - self._spent()

    def _reserve(self) -> float:
        """Kept back for the final standard measurements: the best plan so far's and the baseline's."""
        if not self.settings.confirm:
            return 0.0
        best = min((c.median for c in self._ranked()), default=self.baseline_step)
        return self._confirm_seconds(best) + self._confirm_seconds(self.baseline_step)

    def _confirm_rule(self) -> StopRule:
        """One confirming process's rule: the standard rule, its time cap shared among the rounds."""
        profile, rounds = self.settings.standard, self.settings.confirm_rounds
        min_steps = max(3, math.ceil(profile.min_steps / rounds))
        return StopRule(profile.warmup_steps, profile.min_seconds / rounds, min_steps, profile.max_steps,
                        profile.target_precision,
                        profile.max_seconds / rounds if profile.max_seconds is not None else None)

    def _confirm_seconds(self, step: float) -> float:
        return self.settings.confirm_rounds * standard_seconds(step, self.overhead, self._confirm_rule())

    def _short_cost(self) -> float:
        """A short trial's cost, as the baseline's was: its warm-up as measured (TensorFlow traces the step
        there, for seconds), not as a multiple of the steady step."""
        return self.overhead + self.baseline_warmup + self.settings.short_steps * self.baseline_step

    # -- measuring ---------------------------------------------------------------------------------
    def _try(self, candidate: Candidate, rule: StopRule, compiled: bool) -> Trial | None:
        """One short trial of `candidate`, if the budget left covers it; its time-out is what is left, so that no
        trial (a compile, a slow runtime, a worker that starts slower than the baseline's) runs past the budget.
        A trial an earlier search of the same key left is taken instead, in the order it was measured."""
        left = self._left() - self._reserve()
        needed = self._short_cost() + (self._compile_estimate() if compiled else 0.0)
        best = min((c.median for c in self._ranked()), default=None)
        if self.earlier.get(candidate.plan):
            trial = self.earlier[candidate.plan].pop(0)
            self.say(f"{candidate.plan.describe()}: {len(trial.step_seconds)} step(s) from the earlier search")
            self._take(candidate, trial, best, left, compiled)
            return trial
        if left < needed:
            if not candidate.samples:  # a survivor of an earlier round keeps what it measured
                candidate.verdict = "not tried"
                candidate.reason = (f"the tuning budget was spent ({max(left, 0):.0f} s left; a "
                                    f"{'compile and a ' if compiled else ''}short trial take{'' if compiled else 's'} "
                                    f"about {needed:.0f} s)")
            return None
        if best is not None:
            rule = dataclasses.replace(rule, give_up_above=best * self.settings.clearly_losing)
        self.say(f"measuring {candidate.plan.describe()} ({rule.min_steps} steps)")
        trial = self.measure(candidate.plan, rule, timeout=left, final=False)
        self._take(candidate, trial, best, left, compiled)
        return trial

    def _take(self, candidate: Candidate, trial: Trial, best: float | None, left: float, compiled: bool) -> None:
        """A trial, measured now or by an earlier search, joins its candidate."""
        candidate.trials.append(trial)
        self._judge(candidate, trial, best, left, compiled)
        self._learn_compile(trial, compiled)

    def _compile_estimate(self) -> float:
        return self.settings.compile_estimate_seconds if self.compile_seconds is None else self.compile_seconds

    def _learn_compile(self, trial: Trial, compiled: bool) -> None:
        """What a compile costs here, from a compiled plan's first trial: its warm-up above its steady step (the
        first warm-up step compiles), or all of a trial the budget cut off. The next compile of the same model
        costs about as much: a cold cache stays cold for a graph it has not seen. Without this, a cold compile
        started with 30-40 s of budget left ran into the timeout and wasted them."""
        if not compiled:
            return
        if trial.ok:  # a clearly losing trial too: it has its one step
            self.compile_seconds = warmup_above_steady(trial.warmup_seconds, statistics.median(trial.step_seconds))
        elif trial.failure and trial.failure.startswith("timeout"):
            self.compile_seconds = trial.wall_seconds

    def _judge(self, candidate: Candidate, trial: Trial, best: float | None, left: float, compiled: bool) -> None:
        """The verdict a trial settles by itself: clearly losing, failed, or over the budget."""
        if trial.ok and trial.stopped_by == "clearly losing":
            candidate.verdict = "rejected"
            against = (f"{trial.step_seconds[-1] / best:.1f}x the best so far ({best:.3g} s)" if best is not None
                       else "in the earlier search, against its best then")
            candidate.reason = f"clearly losing: a step took {trial.step_seconds[-1]:.3g} s, {against}; stopped there"
        if not trial.ok:
            candidate.verdict = "failed"
            candidate.reason = trial.failure or "no timed step"
            if trial.failure and trial.failure.startswith("timeout"):
                doing = "compiling" if compiled else "measuring"
                candidate.reason = f"over the tuning budget: still {doing} after {left:.0f} s"

    def _ranked(self) -> list[Candidate]:
        return sorted((c for c in self.candidates if c.verdict == "measured" and c.samples), key=lambda c: c.median)

    def _check_numerics(self, candidate: Candidate) -> None:
        reference = self.references.get(candidate.plan.device)
        if reference is None or candidate is reference or not candidate.trials or not candidate.trials[0].ok:
            return
        gap = loss_gap(candidate.trials[0].losses, reference.trials[0].losses)
        if gap is None:
            return
        if math.isnan(gap) or gap > self.settings.loss_tolerance:
            candidate.verdict = "rejected"
            shown = "NaN or inf" if math.isnan(gap) else f"{gap:.1%} from fp32"
            candidate.reason = (f"numerics: loss after {len(candidate.trials[0].losses) + self.settings.short_warmup} "
                                f"steps is {shown} (bound {self.settings.loss_tolerance:.0%})")

    # -- the search --------------------------------------------------------------------------------
    def run(self, baseline_trial: Trial | None = None) -> TuneResult:
        """The search; `baseline_trial` is the baseline already measured by the short rule (a run's baseline row
        has the short trial's warm-up and its first timed steps), else it is measured first."""
        self.started = self.clock()
        baseline = Candidate(self.space.baseline, "eager")
        self.candidates.append(baseline)
        if baseline_trial is None:
            self.say(f"measuring the baseline: {baseline.plan.describe()}")
            # A search given a budget (a run's) spends no more than it on the baseline either: a baseline whose
            # short trial does not fit (a row over its time cap, MLX's CycleGAN at 4 minutes a step) ends the
            # search, where it once ran up to the 20-minute worker time-out. `tune` sets its budget from this trial.
            trial = self.measure(baseline.plan, self.short_rule, timeout=self.settings.budget_seconds, final=False)
        else:
            trial = baseline_trial
        baseline.trials.append(trial)
        if not trial.ok:
            raise TuneFailed(f"the baseline plan failed: {trial.failure}")
        self.baseline_step = statistics.median(trial.step_seconds)
        self.overhead = max(0.0, trial.wall_seconds - sum(trial.warmup_seconds) - sum(trial.step_seconds))
        self.baseline_warmup = sum(trial.warmup_seconds)
        standard = standard_seconds(self.baseline_step, self.overhead, self.settings.standard)
        self.budget = (self.settings.budget_seconds if self.settings.budget_seconds is not None
                       else self.settings.budget_factor * standard)
        self.say(f"budget {self.budget:.0f} s ({self.settings.budget_factor:g}x one standard measurement, "
                 f"~{standard:.0f} s)" if self.settings.budget_seconds is None else f"budget {self.budget:.0f} s")

        # The likeliest gains first, so that a tight budget measures them before it runs out: a reduced precision
        # (only listed where the hardware has it), then channels_last; the rest in the space's order.
        likeliest = sorted((plan for plan in self.space.eager if plan != baseline.plan),
                           key=lambda plan: (plan.precision == "fp32", not plan.channels_last))
        eager = [Candidate(plan, "eager") for plan in likeliest]
        for candidate in eager:
            self.candidates.append(candidate)
            self._try(candidate, self.short_rule, compiled=False)
        self.references = {c.plan.device: c for c in self.candidates
                           if c.plan in self.space.references and c.trials and c.trials[0].ok}
        for candidate in self.candidates:
            self._check_numerics(candidate)
        self._halve()

        self._runtime_stage(baseline, KERNEL_SWITCHES)
        if not self.settings.compile:
            self.space.pruned.append(("compile", "this run compiles nothing (a quick run)"))
        for plan in self._compile_candidates(baseline) if self.settings.compile else []:
            candidate = Candidate(plan, "compile")
            self.candidates.append(candidate)
            if self._try(candidate, self.short_rule, compiled=True) is not None:
                self._check_numerics(candidate)
        self._runtime_stage(baseline, LATER_SWITCHES)  # on the best plan so far, compiled or not
        return self._confirm(baseline)

    def _runtime_stage(self, baseline: Candidate, switches: frozenset[str]) -> None:
        """Each runtime switch of `switches` on its own on the best plan so far."""
        if not self.settings.runtime:
            return
        best = self._ranked()[0] if self._ranked() else baseline
        measured = []
        for plan in self.space.runtime_variants(best.plan, switches):
            candidate = Candidate(plan, "runtime")
            self.candidates.append(candidate)
            if self._try(candidate, self.short_rule, compiled=plan.compile != "off") is not None:
                self._check_numerics(candidate)
                measured.append(candidate)
        self._recheck(best, measured)

    def _recheck(self, plan: Candidate, switches: list[Candidate]) -> None:
        """A second process of each switch that its first could not rank against `plan` (within `recheck_within`
        of it, either way), in the reverse order, then one more of `plan`: A B1 B2 B2 B1 A, so that a drift
        steady over the stage weighs on both sides of each comparison alike. Each candidate's median pools its
        processes. A recheck the budget cannot cover is skipped: the first process stands."""
        if plan.median is None:
            return
        close = [c for c in switches if c.verdict == "measured" and c.samples and len(c.trials) == 1
                 and abs(c.median / plan.median - 1) <= self.settings.recheck_within]
        if not close:
            return
        self.say(f"{len(close)} switch(es) within {self.settings.recheck_within:.0%} of {plan.plan.describe()}: "
                 f"a second process of each, and of it")
        for candidate in reversed(close):
            self._try(candidate, self.short_rule, compiled=candidate.plan.compile != "off")
        self._try(plan, self.short_rule, compiled=plan.plan.compile != "off")

    def _compile_candidates(self, baseline: Candidate) -> list[Plan]:
        """The compiler on the best uncompiled plan of each memory layout (a runtime switch that won is kept), the
        overall best first: a compiler fuses differently per layout (style transfer compiled was 1.07x faster
        contiguous, slower channels_last, where channels_last won eagerly), so compiling only the best eager
        layout missed the fastest plan."""
        # Halving's slower half still counts here (it lost eagerly, not compiled); failures, numerics and clearly
        # losing plans do not.
        eligible = sorted((c for c in self.candidates if c.stage in ("eager", "runtime") and c.samples
                           and c.plan.compile == "off" and c.verdict != "failed"
                           and not c.reason.startswith(("numerics", "clearly losing"))), key=lambda c: c.median)
        layouts = list(dict.fromkeys(c.plan.channels_last for c in eligible or [baseline]))
        # Per layout, a runtime switch that won by less than the noise is not compiled in: the compiled plan
        # would carry a switch no measurement showed to help.
        best_per_layout = [self._simplest([c for c in eligible if c.plan.channels_last == layout] or [baseline],
                                          baseline).plan for layout in layouts]
        plans = [compiled for plan in best_per_layout for compiled in self.space.compiled(plan)]
        return list(dict.fromkeys(plans))

    def _halve(self) -> None:
        """Successive halving over the eager plans: the faster half measures again, until two are left."""
        while True:
            ranked = self._ranked()
            if len(ranked) <= 2:
                return
            survivors = ranked[:math.ceil(len(ranked) / 2)]
            rule = StopRule(self.settings.short_warmup, 0.0, self.settings.more_steps, self.settings.more_steps)
            for candidate in survivors:
                if self._try(candidate, rule, compiled=False) is None:
                    return
            for candidate in ranked[len(survivors):]:
                candidate.verdict = "rejected"
                candidate.reason = "slower half in successive halving"

    def _simplest_within_noise(self, baseline: Candidate) -> Candidate:
        """The fastest plan of the short trials, unless a plan with fewer switches is within `min_gain` of it:
        then the simplest such plan (the fastest of those). Short trials rank plans only to within their noise,
        and a switch (a compile, bf16, a runtime setting) must earn its place by more than that, as a plan must
        beat the baseline: on ResNet50V2 here bf16 + channels_last compiled ran 2.7% faster than eager in short
        trials and 6% slower at the standard count, and the simpler eager plan was the faster one."""
        ranked = self._ranked()
        if not ranked:
            return baseline
        chosen = self._simplest(ranked, baseline)
        for candidate in ranked:
            if candidate.median < chosen.median:
                candidate.verdict = "rejected"
                candidate.reason = (f"{candidate.median:.4g} s against {chosen.median:.4g} s for a plan with fewer "
                                    f"switches: not {self.settings.min_gain:.0%} faster, within the short trials' "
                                    f"noise")
        return chosen

    def _simplest(self, ranked: list[Candidate], baseline: Candidate) -> Candidate:
        """Of `ranked` (fastest first), the plan with the fewest switches within `min_gain` of the fastest."""
        close = [c for c in ranked if c.median <= ranked[0].median * (1 + self.settings.min_gain)]
        return min(close, key=lambda c: (len(c.plan.differences(baseline.plan)), c.median))

    def _confirm(self, baseline: Candidate) -> TuneResult:
        best = self._simplest_within_noise(baseline)
        standard_trial = baseline_trial = None
        standard_groups: list[list[float]] = []
        baseline_groups: list[list[float]] = []
        if best is not baseline and not self.settings.confirm:
            if best.median * (1 + self.settings.min_gain) >= baseline.median:
                best.verdict = "rejected"
                best.reason = (f"{best.median:.4g} s against the baseline's {baseline.median:.4g} s in short trials: "
                               f"not {self.settings.min_gain:.0%} faster")
                best = baseline
        elif best is not baseline:
            rounds = self.settings.confirm_rounds
            self.say(f"measuring the baseline and the fastest, {best.plan.describe()}, at the standard step count, "
                     f"in {rounds} processes each (A B B A): the speedup is between measurements taken the same way")
            rule, timeout = self._confirm_rule(), self.settings.standard.timeout_seconds
            order = [baseline.plan, best.plan, best.plan, baseline.plan] * math.ceil(rounds / 2)
            measured: dict[Plan, list[Trial]] = {baseline.plan: [], best.plan: []}
            for plan in order[:2 * rounds]:
                measured[plan].append(self.measure(plan, rule, timeout=timeout, final=True))
            baseline_trial, standard_trial = pooled(measured[baseline.plan]), pooled(measured[best.plan])
            baseline_groups = [trial.step_seconds for trial in measured[baseline.plan]]
            standard_groups = [trial.step_seconds for trial in measured[best.plan]]
            confirm, reference = Candidate(best.plan, "standard", [standard_trial]), Candidate(
                baseline.plan, "standard", [baseline_trial])
            if not baseline_trial.ok:
                best.verdict, best.reason = "not tried", (f"the baseline failed at the standard step count "
                                                          f"({baseline_trial.failure}): nothing to compare with")
                best, standard_trial, baseline_trial = baseline, None, None
            elif not standard_trial.ok:
                best.verdict, best.reason = "failed", f"failed at the standard step count: {standard_trial.failure}"
                best, standard_trial, baseline_trial = baseline, None, None
            elif confirm.median * (1 + self.settings.min_gain) >= reference.median:
                best.verdict = "rejected"
                best.reason = (f"at the standard step count {confirm.median:.4g} s against the baseline's "
                               f"{reference.median:.4g} s: not {self.settings.min_gain:.0%} faster")
                best, standard_trial, baseline_trial = baseline, None, None
        best.verdict = "chosen"
        for candidate in self.candidates:
            if candidate.verdict == "measured":
                candidate.verdict = "rejected"
                candidate.reason = candidate.reason or "slower than the chosen plan"
        if standard_trial is None:
            standard_groups = baseline_groups = []
        return TuneResult(baseline=baseline, chosen=best, candidates=self.candidates, pruned=self.space.pruned,
                          standard=standard_trial, tuning_seconds=self._spent(), budget_seconds=self.budget,
                          baseline_standard=baseline_trial, standard_groups=standard_groups,
                          baseline_groups=baseline_groups)
