"""Tuning one of batchmark's workloads: every trial is a worker subprocess, as a row of `batchmark run` is.

A fresh process per trial keeps one plan's thread pool, allocator and compiled graphs out of the next
plan's time; torch.compile's on-disk cache still carries over, which is what makes a second tune cheap.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from pathlib import Path
from typing import Callable

from batchmark.engine.calibration import fingerprint_hash
from batchmark.plans import RUNTIME_DEFAULTS, DeviceSupport, Plan
from batchmark.engine.profiles import Profile
from batchmark.engine.runner import Job, SuiteRequest, run_job
from batchmark.engine.timing import StopRule
from batchmark.frameworks import installed_version
from batchmark.machine import Fingerprint
from batchmark.results import Calibration
from batchmark.tune import cache
from batchmark.tune.search import Search, SearchSettings, Trial, TuneResult
from batchmark.tune.space import search_space
from batchmark.workloads.registry import get_workload
from batchmark.engine.lifetime import owned_folder


def workload_key(machine: Fingerprint, framework: str, workload: str, batch_size: int, image_size: int) -> cache.TuneKey:
    return cache.TuneKey(fingerprint=fingerprint_hash(machine), framework=framework,
                         framework_version=installed_version(framework) or "not installed",
                         workload=workload, batch_shape=f"{batch_size}x{image_size}")


def worker_measure(workload: str, framework: str, batch_size: int, image_size: int, seed: int, plugins: list[str],
                   workdir: Path, on_progress: Callable[[str], None]):
    def measure(plan: Plan, rule: StopRule, timeout: float | None, final: bool) -> Trial:
        profile = Profile("tune", rule.warmup_steps, rule.min_seconds, rule.min_steps, rule.max_steps,
                          timeout_seconds=timeout or 1200.0, compile=True)
        request = SuiteRequest(workloads=[workload], frameworks=[framework], plans=[], device="auto",
                               profile=profile, seed=seed, plugins=plugins, count_flops=final)
        job = Job(workload, framework, "tune", plan, batch_size, image_size)
        start = time.monotonic()
        row = run_job(job, request, workdir, on_progress, rule=rule)
        wall = time.monotonic() - start
        measured = row.measured
        return Trial(plan=plan, step_seconds=measured.step_seconds if measured else [],
                     losses=measured.losses if measured else [],
                     warmup_seconds=measured.warmup_seconds if measured else [], wall_seconds=wall,
                     failure=f"{row.failure.kind}: {row.failure.message}" if row.failure else None,
                     stopped_by=measured.stopped_by if measured else None)
    return measure


def tuned_plan(result: TuneResult, key: cache.TuneKey) -> cache.TunedPlan:
    return cache.TunedPlan(
        key=key, plan=result.chosen.plan, baseline_plan=result.baseline.plan,
        baseline_seconds=result.baseline_seconds, seconds=result.chosen_seconds, speedup=result.speedup,
        measured_alike=result.measured_alike, speedup_ci=result.speedup_ci,
        tuned_at=dt.datetime.now(dt.timezone.utc).isoformat(), tuning_seconds=result.tuning_seconds,
        budget_seconds=result.budget_seconds,
        candidates=[cache.CandidateSummary(plan=c.plan, stage=c.stage, verdict=c.verdict, reason=c.reason,
                                           median_seconds=c.median, steps=len(c.samples),
                                           trials=c.trials)
                    for c in result.candidates],
        pruned=result.pruned,
    )


def tune_workload(workload: str, framework: str, batch_size: int, image_size: int,
                  devices: dict[str, DeviceSupport], calibration: Calibration | None, machine: Fingerprint,
                  settings: SearchSettings = SearchSettings(), seed: int = 0, plugins: list[str] = (),
                  say: Callable[[str], None] = lambda line: None,
                  on_progress: Callable[[str], None] = lambda message: None,
                  earlier: cache.TunedPlan | None = None) -> tuple[cache.TunedPlan, TuneResult]:
    """Search, re-measure the winner, cache it; returns the cached entry and the search's full record. `earlier`, an
    unfinished search of the same key, lends the trials it measured: the search goes on where it stopped."""
    cpu = machine.cpu
    space = search_space(framework, devices, calibration, cpu.logical_cores or 1, cpu.physical_cores or 1,
                         workload=get_workload(workload))
    with owned_folder("batchmark-tune-") as folder:
        measure = worker_measure(workload, framework, batch_size, image_size, seed, list(plugins), Path(folder),
                                 on_progress)
        result = Search(space, measure, settings, say=say,
                        earlier=earlier.earlier_trials() if earlier is not None else None).run()
    tuned = tuned_plan(result, workload_key(machine, framework, workload, batch_size, image_size))
    cache.store(tuned)
    return tuned, result


def switches(plan: Plan, reference: Plan) -> str:
    """What `plan` switches on top of `reference`, as a user would name it: "XLA", "bf16 + channels_last"."""
    names = []
    for field in dataclasses.fields(Plan):
        value, base = getattr(plan, field.name), getattr(reference, field.name)
        if value == base:
            continue
        if field.name == "compile":
            names.append("XLA" if value == "xla" else "eager" if value == "off" else f"torch.compile {value}")
        elif field.name == "channels_last":
            names.append("channels_last" if value else "contiguous")
        elif field.name == "threads" or field.name in RUNTIME_DEFAULTS:
            names.append(f"{field.name}={str(value).lower() if isinstance(value, bool) else value}")
        else:
            names.append(str(value))
    return " + ".join(names) or "baseline"
