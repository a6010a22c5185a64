"""Tuning inside a run: the accelerated plan of a (workload, framework) with nothing cached is chosen by short
trials just before its row, within the run's budget, and the run's own two rows are the standard measurements.

`batchmark tune` re-measures the baseline and the winner at the standard step count after its search; a run
measures both anyway, as its baseline and accelerated rows, so here the search stops at the ranking (the
`confirm=False` search) and the rows are the confirmation. The baseline's short trial is the baseline row's own
warm-up and first timed steps (the same protocol: the same warm-up count, then steps from the first), so it
costs nothing more. After the accelerated row, the plan is cached with the speedup between the two rows (both
standard measurements, in adjacent processes). A partial search (the budget ran out before every candidate) is
cached with its untried candidates, and a run that uses it says so beside the row.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Callable

from batchmark.engine.runner import Job, SuiteRequest
from batchmark.engine.stats import median_ratio_ci
from batchmark.machine import Fingerprint
from batchmark.errors import TuneFailed
from batchmark.plans import DeviceSupport, Plan
from batchmark.results import Calibration, Row, Screening, shape_of
from batchmark.tune import cache
from batchmark.tune.search import Search, SearchSettings, Trial, TuneResult
from batchmark.tune.space import search_space
from batchmark.tune.workload import switches, tuned_plan, worker_measure, workload_key
from batchmark.workloads.registry import get_workload
from batchmark.engine.lifetime import owned_folder


def settings_for(request: SuiteRequest, seconds: float) -> SearchSettings:
    return SearchSettings(short_warmup=request.profile.warmup_steps, confirm=False, compile=request.profile.compile,
                          budget_seconds=None if math.isinf(seconds) else max(0.0, seconds))


def baseline_trial(rows: list[Row], job: Job, plan: Plan, settings: SearchSettings) -> Trial | None:
    """The run's baseline row of this job, read as the short trial it began with; None when there is none."""
    for row in rows:
        if (row.status == "ok" and row.plan == plan and shape_of(row) == shape_of(job)
                and len(row.measured.warmup_seconds) == settings.short_warmup
                and len(row.measured.step_seconds) >= settings.short_steps):
            measured, steps = row.measured, settings.short_steps
            later = sum(measured.step_seconds[steps:])
            return Trial(plan=plan, step_seconds=measured.step_seconds[:steps], losses=measured.losses[:steps],
                         warmup_seconds=measured.warmup_seconds, wall_seconds=(row.wall_seconds or 0.0) - later)
    return None


def candidate_lines(result: TuneResult) -> list[str]:
    lines = []
    for candidate in result.candidates:
        median = f"{candidate.median:.4g} s" if candidate.median is not None else "no step"
        reason = f": {candidate.reason}" if candidate.reason else ""
        lines.append(f"{switches(candidate.plan, result.baseline.plan)}: {candidate.verdict}, {median}{reason}")
    return lines


def screen(job: Job, rows: list[Row], seconds: float, request: SuiteRequest, devices: dict[str, DeviceSupport],
           calibration: Calibration | None, machine: Fingerprint, say: Callable[[str], None] = lambda line: None,
           on_progress: Callable[[str], None] = lambda message: None) -> tuple[Job, Screening, TuneResult | None]:
    """The job with its plan chosen by short trials within `seconds`, the record of what was tried, and the
    search (None when none could run)."""
    if request.device != "auto":
        devices = {request.device: devices[request.device]}
    cpu = machine.cpu
    space = search_space(job.framework, devices, calibration, cpu.logical_cores or 1, cpu.physical_cores or 1,
                         workload=get_workload(job.workload))
    settings = settings_for(request, seconds)
    reused = baseline_trial(rows, job, space.baseline, settings)
    if reused is None and settings.budget_seconds is not None and settings.budget_seconds <= 0:
        # Not even the baseline's short trial fits: nothing can be ranked. Not guessed: the plain framework
        # stands in, and says why.
        return unscreened(job, space.baseline, "no time left in the budget to measure any plan")
    try:
        with owned_folder("batchmark-screen-") as folder:
            measure = worker_measure(job.workload, job.framework, job.batch_size, job.image_size, request.seed,
                                     list(request.plugins), Path(folder), on_progress)
            result = Search(space, measure, settings, say=say).run(reused)
    except TuneFailed as error:
        return unscreened(job, space.baseline, str(error))
    chosen = result.chosen.plan
    untried = sum(1 for candidate in result.candidates if candidate.verdict == "not tried")
    tried = len(result.candidates) - untried
    if chosen == result.baseline.plan:
        note = (f"nothing measured faster than the plain framework in this run's short trials ({tried} plan(s) "
                f"measured in {result.tuning_seconds:.0f} s)")
    else:
        note = (f"{switches(chosen, result.baseline.plan)}, chosen in this run by short trials of {tried} plan(s) "
                f"in {result.tuning_seconds:.0f} s")
    if untried:
        note += (f"; {untried} not tried within the budget: `batchmark tune {job.workload} --framework "
                 f"{job.framework}` goes on with them")
    record = Screening(workload=job.workload, framework=job.framework, seconds=result.tuning_seconds,
                       budget_seconds=result.budget_seconds, chosen=chosen, candidates=candidate_lines(result),
                       pruned=[f"{switch}: {why}" for switch, why in result.pruned])
    resolved = dataclasses.replace(job, plan=chosen, plan_source="screened", screen=False, notes=(note,))
    return resolved, record, result


def unscreened(job: Job, plain: Plan, why: str) -> tuple[Job, Screening, None]:
    """No search could run: the plain framework stands in for the accelerated plan, with the reason."""
    note = f"not tuned ({why}): the plain framework stands in"
    record = Screening(workload=job.workload, framework=job.framework, seconds=0.0, budget_seconds=0.0,
                       chosen=plain, candidates=[], pruned=[note])
    return dataclasses.replace(job, plan=plain, plan_source="screened", screen=False, notes=(note,)), record, None


def cache_after_rows(result: TuneResult, job: Job, baseline: Row | None, accelerated: Row | None,
                     machine: Fingerprint, min_gain: float) -> cache.TunedPlan | None:
    """Cache what an in-run search found, judged by the run's own two rows (`accelerated` is None when the search
    chose the plain framework, whose row stands for both); None when not cached (a row that failed). A partial
    search is cached too, its untried candidates listed, so that the next run spends its budget on rows rather
    than on the same partial search; the run that uses it says so, and `batchmark tune --force` finishes it."""
    if accelerated is not None and accelerated.status != "ok":
        return None
    if not any(candidate.trials for candidate in result.candidates if candidate is not result.baseline):
        return None  # nothing but the baseline was measured: no answer to keep, the next run searches again
    tuned = tuned_plan(result, workload_key(machine, job.framework, job.workload, job.batch_size, job.image_size))
    if accelerated is not None and baseline is not None and baseline.status == "ok":
        speedup, low, high = median_ratio_ci(accelerated.measured.step_seconds, baseline.measured.step_seconds)
        tuned.baseline_seconds, tuned.seconds = baseline.statistics.median, accelerated.statistics.median
        tuned.speedup, tuned.speedup_ci, tuned.measured_alike = speedup, (low, high), True
        if speedup < 1 + min_gain:  # the rows did not bear the short trials out: the plain framework it is
            tuned.plan, tuned.seconds, tuned.speedup, tuned.speedup_ci = baseline.plan, baseline.statistics.median, \
                1.0, None
            tuned.measured_alike = False
    cache.store(tuned)
    return tuned
