"""The parent side: validate a request, run each (workload, plan) in a worker, collect and save rows.

Results are written after every row, atomically, so that a crash, a kill or Ctrl-C loses at most the row
in flight. Workers run in their own session so that Ctrl-C reaches the parent only; the parent then kills
the worker's whole process group. A worker also dies with its parent when the parent is killed outright
(engine/lifetime.py).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

from batchmark.version import __version__
from batchmark.errors import Interrupted, UsageError
from batchmark.plans import PlanSource, DeviceSupport, Plan
from batchmark.engine.plan import PlanRequest, baseline, belongs_elsewhere, check_plan
from batchmark.engine.budget import Allowance, RowCost, SuiteBudget
from batchmark.engine.data_parallel import (DataParallel, apply_scaling, group_failure, launcher_command,
                                            rank_threads, signal_failure)
from batchmark.engine.lifetime import Lifeline, interruption, owned_folder
from batchmark.engine.profiles import Profile
from batchmark.engine.timing import StopRule
from batchmark.engine.stats import stability_warnings, summarize, warmup_above_steady
from batchmark.engine.worker import RunSpec, WorkerReply
from batchmark.machine import Fingerprint
from batchmark.frameworks import FRAMEWORKS, get_framework, installed_version
from batchmark.frameworks.runtime import worker_environment
from batchmark.results import (Failure, NotRun, ResultsFile, Row, RowWarning, WorkerOutput, apply_energy,
                               apply_peaks, apply_speedups, shape_of)
from batchmark.telemetry.clocks import CLOCKS_THROTTLED, throttling
from batchmark.workloads.registry import get_workload

DEVICE_PREFERENCE = ("cuda", "mps", "cpu")  # "auto" picks the first one a framework can use
PROBE_TIMEOUT_SECONDS = 120  # importing a framework cold can take tens of seconds on a slow disk
LOG_TAIL_CHARACTERS = 2000


@dataclass(frozen=True)
class Job:
    workload: str
    framework: str
    plan_label: str
    plan: Plan
    batch_size: int
    image_size: int
    plan_source: PlanSource | None = None  # None for plans named switch by switch
    also: tuple[str, ...] = ()  # other requested plans that resolved to this same plan: measured once, here
    # Its plan is to be chosen by measuring, in this run, just before it runs (no tuned plan is cached for it):
    # `plan` is only a placeholder until then.
    screen: bool = False
    notes: tuple[str, ...] = ()  # how its plan was chosen, when that needs saying
    data_parallel: DataParallel | None = None  # trained by a torchrun group; None: one process

    @property
    def world_size(self) -> int:
        return self.data_parallel.world_size if self.data_parallel else 1


@dataclass
class SuiteRequest:
    workloads: list[str]
    frameworks: list[str]
    plans: list[PlanRequest]
    device: str  # "auto" keeps each plan's own device
    profile: Profile
    batch_size: int | None = None
    image_size: int | None = None
    steps: int | None = None  # a fixed number of timed steps, replacing the adaptive rule
    warmup: int | None = None
    timeout: float | None = None
    weights: Path | None = None
    seed: int = 0
    plugins: list[str] = field(default_factory=list)
    count_flops: bool = True
    # An accelerated (or tuned) plan with no tuned plan cached is chosen by short trials in the run itself; off,
    # it is the static plan (assumed, not measured).
    screen_missing: bool = True
    # Each row trained by a torchrun group as well, beside its one-process reference; None: one process a row.
    data_parallel: DataParallel | None = None
    cores: int = field(default_factory=lambda: len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                       else os.cpu_count() or 1)  # what the ranks of one node split on a CPU


def validate(request: SuiteRequest) -> None:
    """Everything that can be checked without running a framework; raises UsageError."""
    for name in request.workloads:
        get_workload(name)
    if not request.frameworks:
        raise UsageError(f"--framework names no framework. Allowed: {', '.join(FRAMEWORKS)}.")
    for name in request.frameworks:
        get_framework(name)
        if installed_version(name) is None:
            raise UsageError(f"framework '{name}' is not installed; install it with: {get_framework(name).install}")
    if request.device not in ("auto", *DEVICE_PREFERENCE):
        raise UsageError(f"unknown device '{request.device}'. Allowed: auto, {', '.join(DEVICE_PREFERENCE)}.")
    for option, value in (("--batch-size", request.batch_size), ("--steps", request.steps),
                          ("--image-size", request.image_size)):
        if value is not None and value <= 0:
            raise UsageError(f"{option} must be a positive integer, got {value}.")
    if request.warmup is not None and request.warmup < 0:
        raise UsageError(f"--warmup must be 0 or more, got {request.warmup}.")
    if request.timeout is not None and request.timeout <= 0:
        raise UsageError(f"--timeout must be positive seconds, got {request.timeout}.")
    if request.weights is not None:
        if len(request.workloads) != 1:
            raise UsageError("--weights needs exactly one workload: a weights file belongs to one model.")
        if not request.weights.is_file():
            raise UsageError(f"--weights {request.weights}: no such file.")
    if request.data_parallel is not None:
        validate_data_parallel(request)
    if request.image_size is not None:
        for name in request.workloads:
            spec = get_workload(name)
            problem = spec.size_problem(request.image_size)
            if problem:
                raise UsageError(f"--image-size {request.image_size} does not fit {name}: {problem}.")


def validate_data_parallel(request: SuiteRequest) -> None:
    request.data_parallel.check()
    others = [name for name in request.frameworks if name != "torch"]
    if others:
        raise UsageError(f"distributed runs (--nproc-per-node, --nnodes) are PyTorch-only: use --framework torch "
                         f"(not {', '.join(others)}).")
    if request.warmup == 0:
        raise UsageError("--warmup 0 with --nproc-per-node: a distributed row needs a warm-up step, which sets up "
                         "DDP's gradient buckets and makes the first all-reduce.")


def probe_devices(framework: str) -> dict[str, DeviceSupport]:
    """The devices `framework` can use here, asked of the framework itself in a subprocess."""
    with owned_folder("batchmark-probe-") as folder, Lifeline() as lifeline:
        reply_path = folder / "reply.json"
        try:
            completed = subprocess.run(lifeline.command("--probe", framework, str(reply_path)), pass_fds=lifeline.fds,
                                       capture_output=True, text=True, timeout=PROBE_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise UsageError(f"framework '{framework}' did not start within {PROBE_TIMEOUT_SECONDS} s") from None
        if not reply_path.exists():
            raise UsageError(f"framework '{framework}' failed to start (exit {completed.returncode}): "
                             f"{_last_line(completed.stderr)}")
        reply = WorkerReply.model_validate_json(reply_path.read_text())
    if reply.status != "ok":
        raise UsageError(f"framework '{framework}' failed to start: {reply.failure.message}")
    return {device["name"]: DeviceSupport(**device) for device in reply.devices}


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def workload_sizes(request: SuiteRequest, workload: str) -> tuple[int, int]:
    """(batch size, image size) of `workload` in this request: the options, else the profile's defaults."""
    spec = get_workload(workload)
    quick = request.profile.name == "quick"
    return (request.batch_size or (spec.quick_batch_size if quick else spec.batch_size),
            request.image_size or (spec.quick_image_size if quick else spec.image_size))


# (workload, framework, batch, image) -> the cached tuned plan, or (plan, notes a reader must see beside it)
TunedLookup = Callable[[str, str, int, int], "Plan | tuple[Plan, tuple[str, ...]] | None"]


def plan_jobs(request: SuiteRequest, devices: dict[str, dict[str, DeviceSupport]],
              tuned: TunedLookup = lambda workload, framework, batch_size, image_size: None) -> list[Job]:
    """Every (workload, framework, plan) to run, in the order they are run: workload-major, so that a
    workload's baseline and accelerated rows finish together. `tuned` finds a cached tuned plan."""
    jobs = []
    for framework in request.frameworks:
        available = devices[framework]
        if request.device != "auto" and request.device not in available:
            raise UsageError(f"--device {request.device} is not available to {framework} on this machine. "
                             f"Available: {', '.join(available)}.")
    for workload in request.workloads:
        batch_size, image_size = workload_sizes(request, workload)
        # Plan names that resolve alike are merged among this workload's jobs only: a workload named twice
        # (to see the suite go on after a failure, or to measure drift) is measured twice.
        first = len(jobs)
        for framework in request.frameworks:
            available = devices[framework]
            target = request.device if request.device != "auto" else next(d for d in DEVICE_PREFERENCE if d in available)
            override = None if request.device == "auto" else request.device
            cached, cached_notes = tuned(workload, framework, batch_size, image_size), ()
            if isinstance(cached, tuple):
                cached, cached_notes = cached
            for plan_request in request.plans:
                plan, source = plan_request.resolve(framework, available[target], override, cached)
                if (request.screen_missing and source == "static" and plan_request.base in ("accelerated", "tuned")
                        and not plan_request.switches):
                    # Nothing measured is cached: the run measures it, just before this row (a placeholder plan).
                    twin = next((index for index in range(first, len(jobs))
                                 if jobs[index].screen and jobs[index].framework == framework), None)
                    if twin is None:
                        jobs.append(Job(workload, framework, plan_request.label, plan, batch_size, image_size, None,
                                        screen=True))
                    elif plan_request.label != jobs[twin].plan_label and plan_request.label not in jobs[twin].also:
                        jobs[twin] = dataclasses.replace(jobs[twin], also=(*jobs[twin].also, plan_request.label))
                    continue
                if not request.profile.compile and plan_request.base != "baseline" and not any(
                        key == "compile" for key, _ in plan_request.switches):
                    # No compiler beyond what the plain framework already does (JAX always jits).
                    plan = dataclasses.replace(plan, compile=baseline(framework, available[target]).compile)
                if belongs_elsewhere(plan, request.frameworks):
                    continue  # another framework's runtime switch: that framework's row alone
                check_plan(plan)
                same = next((index for index in range(first, len(jobs))
                             if jobs[index].plan == plan and not jobs[index].screen), None)
                if same is None:
                    notes = cached_notes if source == "tuned" else ()
                    jobs.append(Job(workload, framework, plan_request.label, plan, batch_size, image_size, source,
                                    notes=notes))
                elif plan_request.label != jobs[same].plan_label and plan_request.label not in jobs[same].also:
                    jobs[same] = dataclasses.replace(jobs[same], also=(*jobs[same].also, plan_request.label))
    return data_parallel_jobs(jobs, request) if request.data_parallel else jobs


def data_parallel_jobs(jobs: list[Job], request: SuiteRequest) -> list[Job]:
    """Each row twice: in one process, the reference, then by the torchrun group. On a CPU the ranks split the
    node's cores and the reference gets one rank's share, so that threading neither flatters nor penalises the
    scaling. The reference comes first, so the group's row can be set against it the moment it finishes; a node
    other than node 0 runs only its ranks of the group rows (node 0 measures the reference and reports)."""
    group = request.data_parallel
    expanded = []
    for job in jobs:
        if job.plan.device == "cpu" and job.plan.threads is None:
            job = dataclasses.replace(job, plan=dataclasses.replace(
                job.plan, threads=rank_threads(group.nproc_per_node, request.cores)))
        if group.records:
            expanded.append(job)
        expanded.append(dataclasses.replace(job, data_parallel=group))
    return expanded


def make_row(job: Job, output: WorkerOutput | None, failure: Failure | None) -> Row:
    common = dict(workload=job.workload, framework=job.framework, plan_label=job.plan_label,
                  plan=job.plan, batch_size=job.batch_size, image_size=job.image_size,
                  plan_source=job.plan_source, also_labels=list(job.also), notes=list(job.notes),
                  world_size=job.world_size)
    if failure is not None:
        if failure.kind == "oom" and job.batch_size > 1 and "--batch-size" not in failure.message:
            # What to do about it: activations grow with the batch (and a language model's context).
            failure = failure.model_copy(update={"message": f"{failure.message}; the batch of {job.batch_size} "
                                                            f"does not fit here: try a smaller --batch-size"})
        return Row(status="failed", failure=failure, measured=output, **common)
    statistics = summarize(output.step_seconds)
    compile_seconds = None
    if job.plan.compile != "off":
        compile_seconds = warmup_above_steady(output.warmup_seconds, statistics.median)
    row = Row(
        status="ok", measured=output, statistics=statistics,
        warnings=[RowWarning(code=code.value, message=message) for code, message in stability_warnings(
            output.step_seconds, output.precision_target, output.stopped_by)],
        samples_per_second=job.batch_size / statistics.median,
        compile_seconds=compile_seconds,
        **common,
    )
    if (throttled := throttling(output.clocks)) is not None:
        row.warnings.append(RowWarning(code=CLOCKS_THROTTLED, message=throttled))
    apply_energy(row)
    return row


def worker_spec(job: Job, request: SuiteRequest, workdir: Path, slug: str,
                allowance: Allowance = Allowance(None, None), rule: StopRule | None = None) -> RunSpec:
    """What the worker is told. `rule` (the tuner's short trials) replaces the profile's stop rule; the
    allowance (the suite's budget) lowers its time cap."""
    rule = rule or profile_rule(request, allowance)
    return RunSpec(
        workload=job.workload, framework=job.framework, plan=job.plan, batch_size=job.batch_size,
        image_size=job.image_size, seed=request.seed, warmup_steps=rule.warmup_steps,
        min_seconds=rule.min_seconds, min_steps=rule.min_steps, max_steps=rule.max_steps,
        target_precision=rule.target_precision, max_seconds=rule.max_seconds, give_up_above=rule.give_up_above,
        weights=str(request.weights) if request.weights else None,
        plugins=request.plugins,
        count_flops=request.count_flops,
        reply_path=str(workdir / f"{slug}.reply.json"),
        progress_path=str(workdir / f"{slug}.progress"),
        data_parallel=job.data_parallel is not None,
    )


def profile_rule(request: SuiteRequest, allowance: Allowance) -> StopRule:
    """A row's stop rule: `--steps` exactly when given, else the profile's precision target and time cap, the cap
    lowered to what the suite's budget allows the row."""
    profile = request.profile
    warmup = profile.warmup_steps if request.warmup is None else request.warmup
    if request.steps:
        return StopRule(warmup, 0.0, request.steps, request.steps)
    max_seconds = profile.max_seconds
    if allowance.max_seconds is not None:
        max_seconds = allowance.max_seconds if max_seconds is None else min(max_seconds, allowance.max_seconds)
    return StopRule(warmup, profile.min_seconds, profile.min_steps, profile.max_steps, profile.target_precision,
                    max_seconds)


def run_job(job: Job, request: SuiteRequest, workdir: Path, on_progress: Callable[[str], None],
            logs: Path | None = None, allowance: Allowance = Allowance(None, None),
            rule: StopRule | None = None) -> Row | None:
    """One row in a worker. The worker's output of a failed row is kept under `logs` and named in the row. None:
    this node's ranks trained a row that node 0 measures and keeps."""
    slug = f"{job.workload}-{job.framework}-{uuid.uuid4().hex[:8]}"
    timeout = request.timeout or request.profile.timeout_seconds
    if allowance.timeout_seconds is not None:
        timeout = min(timeout, allowance.timeout_seconds)
    # The worker knows its limit, so that a framework whose steps take minutes can stop with what it measured.
    spec = worker_spec(job, request, workdir, slug, allowance, rule).model_copy(update={"row_seconds": timeout})
    spec_path = workdir / f"{slug}.spec.json"
    try:
        spec_path.write_text(spec.model_dump_json())
    except OSError as error:  # a full temporary disk: this row cannot start, the next may
        return make_row(job, None, Failure(kind="error", message=f"cannot write the worker's spec in {workdir}: "
                                                                 f"{error.strerror or error}"))
    log_path = workdir / f"{slug}.log"
    start = time.monotonic()
    output, failure = _run_worker(spec_path, spec, log_path, timeout, on_progress, job.data_parallel,
                                  budget_cut=allowance.timeout_seconds is not None and allowance.timeout_seconds < (
                                      request.timeout or request.profile.timeout_seconds))
    wall = time.monotonic() - start
    if failure is not None and logs is not None:
        kept = logs / f"{slug}.log"
        try:
            logs.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(log_path, kept)
            failure.log = str(kept)
        except OSError:  # a full disk: the row keeps its one-line reason, without the full log
            kept.unlink(missing_ok=True)
    if output is None and failure is None:
        return None
    row = make_row(job, output, failure)
    row.wall_seconds = wall
    return row


def _run_worker(spec_path: Path, spec: RunSpec, log_path: Path, timeout: float,
                on_progress: Callable[[str], None], group: DataParallel | None = None,
                budget_cut: bool = False) -> tuple[WorkerOutput | None, Failure | None]:
    """Run one worker, or one torchrun group, until it replies or `timeout` (which covers the whole group: killing
    the launcher's process group kills every rank, engine/data_parallel.py)."""
    failures = spec_path.with_suffix(".failures.json")
    with open(log_path, "w") as log, Lifeline() as lifeline:
        environment = worker_environment(spec.plan)
        command = lifeline.command(str(spec_path))
        if group is not None:
            # torchrun's own logs and error files in the run's folder: otherwise a folder of its own in the system's
            # temporary directory that nothing removes.
            torchrun = [*group.torchrun_arguments(), f"--log-dir={spec_path.with_suffix('.torchrun')}"]
            command = launcher_command(sys.executable, os.getpid(), lifeline.read_end, failures, torchrun, spec_path)
            if spec.plan.threads is not None:  # torchrun would set 1 otherwise, and say so
                environment["OMP_NUM_THREADS"] = str(spec.plan.threads)
        worker = subprocess.Popen(command, pass_fds=lifeline.fds,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                  env=environment)
        deadline = time.monotonic() + timeout
        try:
            while worker.poll() is None:
                if time.monotonic() > deadline:
                    _kill(worker)
                    why = " (what was left of the suite's budget)" if budget_cut else ""
                    return None, Failure(kind="timeout", message=f"no result after {timeout:.0f} s{why}; worker killed")
                try:
                    on_progress(Path(spec.progress_path).read_text())
                except OSError:
                    pass
                time.sleep(0.2)
        except KeyboardInterrupt as stop:  # Ctrl-C or SIGTERM
            _kill(worker)
            raise interruption(stop) from None
    reply_path = Path(spec.reply_path)
    if reply_path.exists():
        reply = WorkerReply.model_validate_json(reply_path.read_text())
        return reply.output, reply.failure
    if group is not None and (failure := group_failure(failures, spec.reply_path, group.world_size)) is not None:
        return None, failure
    if group is not None and not group.records and worker.returncode == 0:
        return None, None  # this node's ranks did their part; node 0 has the row
    if worker.returncode < 0:
        return None, signal_failure(worker.returncode)
    tail = _last_line(log_path.read_text()[-LOG_TAIL_CHARACTERS:])
    return None, Failure(kind="crash", message=f"worker exited {worker.returncode} without a result: {tail}")


def _kill(worker: subprocess.Popen) -> None:
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait()


def new_results(command: list[str], profile: Profile, machine: Fingerprint) -> ResultsFile:
    now = dt.datetime.now(dt.timezone.utc)
    return ResultsFile(
        batchmark_version=__version__,
        run_id=f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}",
        command=command, profile=profile.name, started_at=now.isoformat(), machine=machine,
    )


class Recorder(Protocol):
    """Somewhere a run is kept as it goes (the results JSON, the history database): told of the run, of each row
    as soon as it is finished, and of the end. Each fails on its own: one that cannot write says so and the
    others go on."""

    def started(self, results: ResultsFile) -> None: ...

    def row_finished(self, results: ResultsFile, row: Row) -> None: ...

    def finished(self, results: ResultsFile) -> None: ...


class ResultsFileRecorder:
    """The results JSON, rewritten whole and atomically at every change. Where it cannot be written (a full disk),
    `on_error` hears of it once and the run goes on; every later change tries again, so the file catches up when
    space comes back. Without `on_error`, a failed write raises."""

    def __init__(self, path: Path, on_error: Callable[[OSError], None] | None = None):
        self.path, self.on_error = path, on_error
        self.error: OSError | None = None  # why the latest write failed; None once one takes
        self.reported = False

    def changed(self, results: ResultsFile) -> None:
        try:
            results.write(self.path)
        except OSError as error:
            if self.on_error is None:
                raise
            self.error = error
            if not self.reported:
                self.reported = True
                self.on_error(error)
        else:
            self.error = None

    def started(self, results: ResultsFile) -> None:
        self.changed(results)

    def row_finished(self, results: ResultsFile, row: Row) -> None:
        self.changed(results)

    def finished(self, results: ResultsFile) -> None:
        self.changed(results)


Screener = Callable[[Job, list[Row], float], Job]  # (job to screen, rows so far, seconds it may spend) -> job


def run_suite(request: SuiteRequest, jobs: list[Job], results: ResultsFile, output: Path,
              on_start: Callable[[int, Job], None] = lambda index, job: None,
              on_progress: Callable[[str], None] = lambda message: None,
              on_row: Callable[[Row], None] = lambda row: None,
              recorders: Sequence[Recorder] = (), budget: SuiteBudget | None = None,
              screen: Screener | None = None, execute: Callable[..., Row] = run_job,
              results_file: ResultsFileRecorder | None = None) -> ResultsFile:
    """Run `jobs` in order, saving `results` to `output` (through `results_file`, when given) and to every
    recorder after every row.

    With a `budget`, each row's timed work is capped by its share of what is left and a row that no longer fits
    is listed in `results.not_run` instead of run. A job marked `screen` gets its plan from `screen` first (the
    in-run tuning); a plan that turns out equal to a row already measured joins that row under its name.
    Raises Interrupted on Ctrl-C (Terminated on SIGTERM), after saving the rows so far and the interrupted one."""
    budget = budget or SuiteBudget(None)
    budget.start()
    results.budget_seconds = budget.seconds
    results_file = results_file or ResultsFileRecorder(output)
    recorders = (results_file, *recorders)
    for recorder in recorders:
        recorder.started(results)
    min_steps = request.steps or request.profile.min_steps
    with owned_folder("batchmark-run-") as folder:
        for index, job in enumerate(jobs):
            on_start(index, job)
            remaining = [later.workload for later in jobs[index:]]
            try:
                if job.screen and screen is None:  # nothing to measure it with: the static plan, named so
                    job = dataclasses.replace(job, screen=False, plan_source="static")
                if job.screen and budget.affordable(job.workload, min_steps):
                    pending = sum(1 for later in jobs[index:] if later.screen)
                    seconds = budget.screening_seconds(job.workload, remaining, pending, min_steps)
                    job = screen(job, results.rows, seconds)
                    if _joined_earlier_row(job, results, results_file):
                        continue
                if job.screen or not budget.affordable(job.workload, min_steps):
                    _not_run(results, job, budget, min_steps, results_file)
                    continue
                allowance = budget.allowance(job.workload, remaining, min_steps, request.profile.max_seconds,
                                             request.timeout or request.profile.timeout_seconds)
                row = execute(job, request, folder, on_progress, logs=output.with_suffix(".logs"),
                              allowance=allowance)
                if row is None:  # another node keeps it
                    continue
            except (Interrupted, KeyboardInterrupt) as stop:
                stopped = interruption(stop)
                results.interrupted = True
                _add_row(results, make_row(job, None, Failure(kind="interrupted", message=str(stopped))), recorders)
                _finish(results, recorders)
                raise stopped from None
            if row.status == "ok" and row.wall_seconds is not None:
                budget.record(RowCost(job.workload, row.wall_seconds, sum(row.measured.step_seconds),
                                      row.statistics.median))
            _add_row(results, row, recorders)
            on_row(row)
    _finish(results, recorders)
    return results


# Failures the same plan would meet again at once: a step over the row's time cap (with less of the budget left
# now), too little memory, a plan the framework cannot run. A crash or an interruption may not repeat.
REPEATING_FAILURES = ("timeout", "oom", "unsupported")


def _joined_earlier_row(job: Job, results: ResultsFile, results_file: ResultsFileRecorder) -> bool:
    """Whether a screened job's plan is one this run already measured for the same workload, framework and sizes,
    or already saw fail in a way it would again: then it is not run again, and that row carries its name too (MLX's
    CycleGAN ran a second 4-minute step over its time cap as "accelerated", the plain framework standing in)."""
    for row in results.rows:
        settled = row.status == "ok" or (row.failure is not None and row.failure.kind in REPEATING_FAILURES)
        if settled and row.plan == job.plan and shape_of(row) == shape_of(job):
            for label in (job.plan_label, *job.also):
                if label not in (row.plan_label, *row.also_labels):
                    row.also_labels.append(label)
            row.notes.extend(job_notes(job))
            results_file.changed(results)
            return True
    return False


def job_notes(job: Job) -> list[str]:
    """A joining job's notes on the row it joins, each prefixed with the plan name it is about."""
    return [f"{job.plan_label}: {note}" for note in job.notes]


def _not_run(results: ResultsFile, job: Job, budget: SuiteBudget, min_steps: int,
             results_file: ResultsFileRecorder) -> None:
    needed = budget.minimum_estimate(job.workload, min_steps)
    results.not_run.append(NotRun(
        workload=job.workload, framework=job.framework, plan_label=job.plan_label,
        reason=f"{max(budget.left(), 0):.0f} s of the {budget.seconds / 60:.3g}-minute budget left, and a row of "
               f"{job.workload} needs about {needed:.0f} s (its build, warm-up and {min_steps} steps, as measured "
               f"in this run)"))
    results_file.changed(results)


def _add_row(results: ResultsFile, row: Row, recorders: Sequence[Recorder]) -> None:
    results.rows.append(row)
    apply_speedups(results.rows)
    apply_scaling(results.rows)
    apply_peaks(results)
    for recorder in recorders:
        recorder.row_finished(results, row)


def _finish(results: ResultsFile, recorders: Sequence[Recorder]) -> None:
    results.finished_at = dt.datetime.now(dt.timezone.utc).isoformat()
    apply_speedups(results.rows)
    apply_scaling(results.rows)
    apply_peaks(results)
    for recorder in recorders:
        recorder.finished(results)
