"""`batchmark.run_suite`: what `batchmark run` does, as one function: check the request, calibrate, find the
tuned plans (tuning first if asked), measure every row in a worker, keep each row in the results file and the
history as it finishes, and write the report."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import platformdirs

from batchmark.api.events import Events
from batchmark.api.plugins import load_plugins
from batchmark.api.tuning import tune_one
from batchmark.engine import calibration
from batchmark.engine.plan import parse_plans
from batchmark.engine.profiles import PROFILES
from batchmark.engine.runner import (SuiteRequest, new_results, plan_jobs, probe_devices, run_suite as run_jobs,
                                     validate, workload_sizes)
from batchmark.errors import CalibrationError, Interrupted, UsageError
from batchmark.machine import Fingerprint, fingerprint, nvidia_gpus
from batchmark.plans import Plan
from batchmark.results import Calibration, ResultsFile
from batchmark.store import HistoryRecorder, open_history
from batchmark.tune import cache
from batchmark.tune.workload import workload_key
from batchmark.workloads.registry import workload_names

DEFAULT_FRAMEWORKS = ("torch", "tensorflow")  # the seed article's; JAX is opt-in
DEFAULT_PLANS = ("baseline,accelerated",)


@dataclass
class SuiteOutcome:
    results: ResultsFile  # every row that finished, also in `path` and in the history
    path: Path  # the results JSON
    report_path: Path | None  # the HTML report beside it; None when not asked for or not writable
    history_location: str | None  # where the rows were kept; None when the history broke mid-run
    interrupted: bool  # Ctrl-C or SIGTERM: the rows so far are saved, the rest did not run

    @property
    def failed_rows(self) -> int:
        return sum(1 for row in self.results.rows if row.status == "failed")


def run_suite(workloads: Sequence[str] | None = None, frameworks: Sequence[str] = DEFAULT_FRAMEWORKS,
              plans: Sequence[str] = DEFAULT_PLANS, device: str = "auto", quick: bool = False,
              batch_size: int | None = None, image_size: int | None = None, steps: int | None = None,
              warmup: int | None = None, timeout: float | None = None, weights: Path | None = None, seed: int = 0,
              tune_first: bool = False, output: Path | None = None, report: bool = True,
              database: str | None = None, command: list[str] | None = None,
              events: Events | None = None) -> SuiteOutcome:
    """Measure each (workload, framework, plan) row; `plans` are `--plan` values ("baseline,accelerated",
    "accelerated,compile=off"). Raises UsageError for bad input before any row runs; a row that fails is
    recorded with its reason and the rest go on. Ctrl-C ends it early with `interrupted` set."""
    events = events or Events()
    plugins = load_plugins()
    request = SuiteRequest(
        workloads=list(workloads or workload_names()), frameworks=list(frameworks), plans=parse_plans(list(plans)),
        device=device, profile=PROFILES["quick" if quick else "standard"], batch_size=batch_size,
        image_size=image_size, steps=steps, warmup=warmup, timeout=timeout, weights=weights, seed=seed,
        plugins=plugins,
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
    except KeyboardInterrupt:
        raise Interrupted("interrupted before any workload ran; nothing to save") from None

    results = new_results(command if command is not None else sys.argv, request.profile, machine)
    results.calibration = peaks
    path = output or default_output(results.run_id)
    recorder = HistoryRecorder(history, on_error=lambda error: events.warn(
        f"the history stops here ({error}); every row is still in {path}"))
    events.suite_started(jobs)
    interrupted = False
    try:
        run_jobs(request, jobs, results, path, on_start=events.row_started, on_progress=events.row_progress,
                 on_row=events.row_finished, recorders=[recorder])
    except Interrupted:
        interrupted = True
    report_path = write_report_beside(results, path, events) if report and results.rows else None
    return SuiteOutcome(results=results, path=path, report_path=report_path,
                        history_location=None if recorder.broken else history.location, interrupted=interrupted)


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
    def lookup(workload: str, framework: str, batch_size: int, image_size: int) -> Plan | None:
        found = cache.load(workload_key(machine, framework, workload, batch_size, image_size))
        return found.plan if found else None
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
