"""`batchmark.run_suite`: what `batchmark run` does, as one function: check the request, calibrate, find the
tuned plans (tuning first if asked), measure every row in a worker, keep each row in the results file and the
history as it finishes, and write the report."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import platformdirs

from batchmark.api.events import Events
from batchmark.api.plugins import load_plugins
from batchmark.api.tuning import tune_one
from batchmark.engine import calibration
from batchmark.engine.plan import parse_plans
from batchmark.engine.profiles import PROFILES
from batchmark.engine.budget import SuiteBudget
from batchmark.engine.data_parallel import DataParallel
from batchmark.engine.lifetime import interruption
from batchmark.engine.runner import (Job, ResultsFileRecorder, SuiteRequest, new_results, plan_jobs, probe_devices,
                                     run_suite as run_jobs, validate, workload_sizes)
from batchmark.errors import CalibrationError, Interrupted, UsageError
from batchmark.machine import Fingerprint, fingerprint, nvidia_gpus
from batchmark.results import Calibration, ResultsFile, Row, shape_of
from batchmark.store import HistoryRecorder, open_history
from batchmark.tune import cache, in_run
from batchmark.tune.search import SearchSettings, TuneResult
from batchmark.tune.workload import workload_key
from batchmark.workloads.registry import get_workload, workload_names

DEFAULT_FRAMEWORKS = ("torch", "tensorflow")  # the seed article's; JAX is opt-in
DEFAULT_PLANS = ("baseline,accelerated",)


@dataclass
class SuiteOutcome:
    results: ResultsFile  # every row that finished, also in `path` and in the history
    path: Path  # the results JSON
    report_path: Path | None  # the HTML report beside it; None when not asked for or not writable
    history_location: str | None  # where the rows were kept; None when the history broke mid-run
    interrupted: bool  # Ctrl-C or SIGTERM: the rows so far are saved, the rest did not run
    interruption: Interrupted | None = None  # which of the two, with its exit code
    # One sentence per store that does not hold every row (a full disk, a broken database), saying where they are.
    unsaved: list[str] = field(default_factory=list)
    results_saved: bool = True  # False: `path` is missing or behind (see `unsaved`)

    @property
    def failed_rows(self) -> int:
        return sum(1 for row in self.results.rows if row.status == "failed")


def parse_suite_budget(text: str | float | None) -> float | None:
    """`--budget`: minutes ("15", "15m", "90s" for seconds) or "none"; returns seconds, None for no budget."""
    if text is None or isinstance(text, (int, float)):
        return None if text is None else float(text) * 60
    lowered = text.strip().lower()
    if lowered in ("none", "unlimited", "off"):
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*(m|min|s)?", lowered)
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--budget {text!r} must be minutes like 15 (or 15m), seconds like 90s, or none.")
    value = float(match.group(1))
    return value if match.group(2) == "s" else value * 60


def run_suite(workloads: Sequence[str] | None = None, frameworks: Sequence[str] | None = None,
              plans: Sequence[str] = DEFAULT_PLANS, device: str = "auto", quick: bool = False,
              batch_size: int | None = None, image_size: int | None = None, steps: int | None = None,
              warmup: int | None = None, timeout: float | None = None, weights: Path | None = None, seed: int = 0,
              tune_first: bool = False, output: Path | None = None, report: bool = True,
              database: str | None = None, command: list[str] | None = None,
              events: Events | None = None, budget: str | float | None = "profile",
              suite: str = "seed", nproc_per_node: int | None = None, nnodes: int = 1, node_rank: int = 0,
              rdzv_endpoint: str | None = None) -> SuiteOutcome:
    """Measure each (workload, framework, plan) row; `plans` are `--plan` values ("baseline,accelerated",
    "accelerated,compile=off"). Raises UsageError for bad input before any row runs; a row that fails is
    recorded with its reason and the rest go on. Ctrl-C ends it early with `interrupted` set.

    `workloads` default to those of `suite` ("seed", "modern" or "all"). `budget` is the run's wall-clock budget
    in minutes ("15", "90s", "none"); "profile" takes the profile's for the suites the workloads belong to (15
    minutes standard and 3 quick for the seed five, 20 and 3 more with the transformers). An accelerated plan with no tuned plan cached is chosen by short trials in
    the run, within that budget.

    `nproc_per_node` (with `nnodes`, `node_rank`, `rdzv_endpoint`, as torchrun takes them) measures each row a
    second time, trained data-parallel by that many processes per node, beside its one-process reference, and
    derives the scaling efficiency (docs/distributed.md). PyTorch only; `frameworks` then defaults to torch, and
    an accelerated plan is the cached tuned one or the static one (no short trials: they run in one process)."""
    events = events or Events()
    group = None
    if nproc_per_node is not None or nnodes != 1:
        group = DataParallel(nproc_per_node or 1, nnodes, node_rank, rdzv_endpoint)
    if frameworks is None:
        frameworks = ("torch",) if group else DEFAULT_FRAMEWORKS
    profile = PROFILES["quick" if quick else "standard"]
    plugins = load_plugins()
    chosen = list(workloads or workload_names(suite))
    if budget == "profile":
        budget = profile.default_budget_minutes({get_workload(name).suite for name in chosen
                                                 if name in workload_names()})
    suite_budget = SuiteBudget(parse_suite_budget(budget))
    suite_budget.start()
    request = SuiteRequest(
        workloads=chosen, frameworks=list(frameworks), plans=parse_plans(list(plans)),
        device=device, profile=profile, batch_size=batch_size,
        image_size=image_size, steps=steps, warmup=warmup, timeout=timeout, weights=weights, seed=seed,
        plugins=plugins, data_parallel=group, screen_missing=group is None,
    )
    validate(request)
    history = open_history(database)  # before any work: a broken history is an error, not a surprise
    if device == "cuda" and not nvidia_gpus():  # instant answer before any framework starts
        raise UsageError("--device cuda: this machine has no NVIDIA GPU (nvidia-smi finds none). "
                         "Allowed here: auto, cpu.")
    try:
        devices = {name: probe_devices(name) for name in request.frameworks}
        machine = fingerprint()
        peaks = machine_peaks(machine, measure=not quick, events=events)
        if tune_first:
            tune_missing(request, devices, peaks, machine, events)
        jobs = plan_jobs(request, devices, tuned=tuned_lookup(machine))
    except KeyboardInterrupt as stop:
        raise interruption(stop, " before any workload ran; nothing to save") from None

    results = new_results(command if command is not None else sys.argv, request.profile, machine)
    results.calibration = peaks
    path = output or default_output(results.run_id)
    # Each store fails on its own and the run goes on saving where it can; the end says where the rows are.
    results_file = ResultsFileRecorder(path, on_error=lambda error: events.warn(
        f"cannot write the results JSON {path} ({error.strerror or error}); the run goes on, keeping its rows in "
        f"the history"))
    recorder = HistoryRecorder(history, on_error=lambda error: events.warn(
        f"the history stops here ({error}); the run goes on, keeping its rows in {path}"))
    events.suite_started(jobs)
    screening = InRunTuning(request, devices, peaks, machine, results, events)
    stopped = None
    try:
        run_jobs(request, jobs, results, path, on_start=events.row_started, on_progress=events.row_progress,
                 on_row=screening.row_finished, recorders=[recorder], budget=suite_budget, screen=screening.screen,
                 results_file=results_file)
    except Interrupted as error:
        stopped = error
    report_path = (write_report_beside(results, path, events)
                   if report and results.rows and results_file.error is None else None)
    return SuiteOutcome(results=results, path=path, report_path=report_path,
                        history_location=None if recorder.broken else history.location,
                        interrupted=stopped is not None, interruption=stopped,
                        unsaved=unsaved_stores(results, results_file, recorder, history.location),
                        results_saved=results_file.error is None)


def unsaved_stores(results: ResultsFile, results_file: ResultsFileRecorder, recorder: HistoryRecorder,
                   location: str) -> list[str]:
    """A sentence for each store that does not hold every row of the run, saying where they still are."""
    file_error = results_file.error and (results_file.error.strerror or str(results_file.error))
    if file_error and recorder.broken:
        return [f"neither store holds every row: the results JSON {results_file.path} could not be written "
                f"({file_error}) and the history {location} stopped ({recorder.error}); the table above is what "
                f"is left of them"]
    if file_error:
        return [f"the results JSON {results_file.path} could not be written ({file_error}); every row is in the "
                f"history {location}, run {results.run_id} (`batchmark export {results.run_id} --output FILE` "
                f"writes the JSON)"]
    if recorder.broken:
        return [f"the history {location} does not hold every row of run {results.run_id} ({recorder.error}); "
                f"every row is in the results JSON {results_file.path}"]
    return []


class InRunTuning:
    """The run's accelerated plans that nothing cached: screened just before their rows, cached after them."""

    def __init__(self, request: SuiteRequest, devices: dict, peaks: Calibration | None, machine: Fingerprint,
                 results: ResultsFile, events: Events):
        self.request, self.devices, self.peaks, self.machine = request, devices, peaks, machine
        self.results, self.events = results, events
        self.searches: dict[tuple, tuple[Job, TuneResult]] = {}

    key = staticmethod(shape_of)

    def screen(self, job: Job, rows: list[Row], seconds: float) -> Job:
        allowed = "as long as it needs" if seconds == float("inf") else f"up to {seconds:.0f} s"
        self.events.say(f"tuning {job.workload} · {job.framework} in this run: short trials, {allowed}")
        resolved, record, result = in_run.screen(job, rows, seconds, self.request, self.devices[job.framework],
                                                 self.peaks, self.machine,
                                                 say=lambda line: self.events.say(f"  {line}"),
                                                 on_progress=self.events.row_progress)
        self.results.screenings.append(record)
        if result is None:
            return resolved
        if resolved.plan == result.baseline.plan:
            in_run.cache_after_rows(result, resolved, None, None, self.machine, SearchSettings().min_gain)
        else:
            self.searches[self.key(resolved)] = (resolved, result)
        return resolved

    def row_finished(self, row: Row) -> None:
        found = self.searches.pop(self.key(row), None) if row.plan_source == "screened" else None
        if found is not None:
            job, result = found
            baseline = next((other for other in self.results.rows if self.key(other) == self.key(row)
                             and other.plan == result.baseline.plan), None)
            in_run.cache_after_rows(result, job, baseline, row, self.machine, SearchSettings().min_gain)
        self.events.row_finished(row)


def machine_peaks(machine: Fingerprint, measure: bool, events: Events) -> Calibration | None:
    """The cached calibration; measured first (once per machine, ~10 s) when `measure`. None if it fails."""
    try:
        found = calibration.cached(machine)
        if found is None and measure:
            events.say("calibrating this machine's peak once, for % of peak (about 10 s; `batchmark calibrate`)")
            found = calibration.calibrate(machine)
        return found
    except CalibrationError as error:
        events.warn(f"no % of peak in this run: {error}")
        return None


def tuned_lookup(machine: Fingerprint):
    def lookup(workload: str, framework: str, batch_size: int, image_size: int):
        found = cache.load(workload_key(machine, framework, workload, batch_size, image_size))
        if found is None:
            return None
        if found.complete:
            return found.plan
        return found.plan, (f"tuned on {found.tuned_at[:10]} by a search that could not afford {found.untried} of "
                            f"{len(found.candidates)} plans: `batchmark tune {workload} --framework {framework}` "
                            f"goes on with them",)
    return lookup


def tune_missing(request: SuiteRequest, devices: dict, peaks: Calibration | None, machine: Fingerprint,
                 events: Events) -> None:
    """`run --tune`: tune each (workload, framework) of the run that has no cached plan at its sizes."""
    for workload in request.workloads:
        sizes = workload_sizes(request, workload)
        for framework in request.frameworks:
            if cache.load(workload_key(machine, framework, workload, *sizes)) is None:
                events.tuned(tune_one(workload, framework, sizes, devices[framework], peaks, machine,
                                      seed=request.seed, plugins=request.plugins, events=events))


def write_report_beside(results: ResultsFile, path: Path, events: Events) -> Path | None:
    from batchmark.report import write_report  # Plotly and Jinja2: only when a report is written

    try:
        return write_report([results], path.with_suffix(".html"))
    except OSError as error:  # the rows are saved already; a report is `batchmark report` away
        events.warn(f"cannot write the report beside {path}: {error.strerror}")
        return None


def default_output(run_id: str) -> Path:
    return platformdirs.user_data_path("batchmark") / "runs" / f"{run_id}.json"
