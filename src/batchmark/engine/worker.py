"""One measured run in its own process: `python -m batchmark.engine.worker SPEC.json`.

Also `--probe FRAMEWORK REPLY.json`, which lists the devices a framework can use here. The parent adds
`--parent PID --lifeline FD`, so that the worker never outlives it (engine/lifetime.py). A worker that is one
rank of a data-parallel row is started by torchrun instead, and tied to torchrun's launcher
(engine/data_parallel.py).

The parent writes a RunSpec, the worker writes a WorkerReply to `spec.reply_path`. A fresh process per
(workload, plan) means no allocator, thread-pool or compile-cache state leaks from one row into the next,
and a crash or an OOM kill costs one row, not the suite. Any exception becomes a failed reply with its
kind and a one-line reason; the traceback goes to stderr, which the parent keeps in a log.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Literal, NoReturn

from pydantic import BaseModel

from batchmark.files import write_atomically
from batchmark.errors import Unsupported
from batchmark.plans import DeviceSupport, Plan
from batchmark.engine.data_parallel import AGENT_VARIABLE, rank_reply_path
from batchmark.engine.lifetime import die_with_parent
from batchmark.engine.timing import OVER_TIME_CAP, StopRule, measure
from batchmark.results import Failure, WorkerOutput
from batchmark.telemetry.window import TimedWindow


class RunSpec(BaseModel):
    workload: str
    framework: str
    plan: Plan
    batch_size: int
    image_size: int
    seed: int
    warmup_steps: int
    min_seconds: float
    min_steps: int
    max_steps: int
    target_precision: float | None = None
    max_seconds: float | None = None
    give_up_above: float | None = None
    weights: str | None = None
    plugins: list[str] = []  # modules imported first; they may register workloads (tests, user models)
    count_flops: bool = True  # the tuner's short trials skip it: it costs a model build and a traced step
    reply_path: str
    progress_path: str
    # The row's time limit, after which the parent kills this worker: a framework whose steps can take minutes
    # stops before it, with the speed it measured (`over_time_cap`).
    row_seconds: float | None = None
    # One rank of a torchrun group (PyTorch only): DDP, steps that end with all ranks synchronized, a step's time
    # the slowest rank's; global rank 0 reports.
    data_parallel: bool = False


class WorkerReply(BaseModel):
    status: Literal["ok", "failed"]
    output: WorkerOutput | None = None
    failure: Failure | None = None
    devices: list[dict] | None = None  # for probe requests


def classify(error: BaseException) -> Failure:
    text = f"{type(error).__name__}: {error}".splitlines()[0] if str(error) else type(error).__name__
    lowered = text.lower()
    if isinstance(error, MemoryError) or "out of memory" in lowered or "can't allocate memory" in lowered:
        return Failure(kind="oom", message=text)
    if isinstance(error, (Unsupported, NotImplementedError)):
        return Failure(kind="unsupported", message=str(error) or text)
    return Failure(kind="error", message=text)


def write_reply(path: str, reply: WorkerReply) -> None:
    write_atomically(Path(path), reply.model_dump_json())


def run(spec: RunSpec) -> WorkerOutput:
    from batchmark.frameworks import load_backend
    from batchmark.frameworks.runtime import not_in_effect

    reporting = not spec.data_parallel or _global_rank() == 0

    def progress(message: str) -> None:
        if reporting:
            Path(spec.progress_path).write_text(message)

    plan = spec.plan
    # The runtime switches were set by the parent when it started this process; a row must never carry a
    # switch that did not take (an allocator that is not installed, or not preloaded).
    if (problem := not_in_effect(plan)) is not None:
        raise Unsupported(problem)
    backend = load_backend(spec.framework)
    progress("building")
    start = time.perf_counter()
    weights = Path(spec.weights) if spec.weights else None
    if spec.data_parallel:
        prepared = backend.prepare(spec.workload, plan, spec.batch_size, spec.image_size, spec.seed, weights,
                                   data_parallel=True)
    else:
        prepared = backend.prepare(spec.workload, plan, spec.batch_size, spec.image_size, spec.seed, weights)
    setup_seconds = time.perf_counter() - start
    rule = StopRule(spec.warmup_steps, spec.min_seconds, spec.min_steps, spec.max_steps, spec.target_precision,
                    spec.max_seconds, spec.give_up_above, steps_allowance(spec, setup_seconds))
    session = prepared.session
    distributed_backend = None
    window = TimedWindow.open(plan.device, spec.data_parallel)  # NVML's start and the meter's checks: before timing
    if spec.data_parallel:
        measurement = measure(session, rule, progress=progress, slowest=session.slowest, window=window)
        distributed_backend = session.backend
        session.close()
    else:
        measurement = measure(session, rule, progress=progress, window=window)
    peak_memory, memory_kind = prepared.device.peak_memory()
    forward_flops = train_flops = None
    if spec.count_flops and reporting:
        progress("counting FLOPs")
        forward_flops, train_flops = backend.flops_per_sample(prepared)
    return WorkerOutput(
        setup_seconds=setup_seconds,
        warmup_seconds=measurement.warmup_seconds,
        step_seconds=measurement.step_seconds,
        losses=measurement.losses,
        stopped_by=measurement.stopped_by,
        precision_target=spec.target_precision,
        peak_memory_bytes=peak_memory,
        memory_kind=memory_kind,
        forward_flops_per_sample=forward_flops,
        train_flops_per_sample=train_flops,
        device_name=prepared.device.description(),
        framework_version=backend.version(),
        threads=backend.threads(),
        distributed_backend=distributed_backend,
        energy=window.energy,
        energy_missing=window.energy_missing,
        clocks=window.clocks,
    )


def _global_rank() -> int:
    return int(os.environ.get("RANK", "0"))


# The share of a row's limit its steps may use when they can take minutes: the rest is for the start, the build,
# counting FLOPs and writing the reply, which must all end before the parent's deadline.
STEPS_SHARE = 0.8


def steps_allowance(spec: RunSpec, setup_seconds: float) -> float | None:
    """How long the steps of a framework whose steps can take minutes may take in all; None for the others."""
    from batchmark.frameworks import get_framework

    if spec.row_seconds is None or not get_framework(spec.framework).minutes_per_step:
        return None
    return max(STEPS_SHARE * spec.row_seconds - setup_seconds, 0.0)


def over_time_cap(spec: RunSpec, output: WorkerOutput) -> Failure:
    """The row that stopped in its warm-up because its steps cannot fit its limit: what one step took, as data."""
    seconds = output.warmup_seconds[-1]
    return Failure(kind="timeout", message=(
        f"over the time cap: one step took {seconds:.1f} s ({spec.batch_size / seconds:.3g} samples/s, measured in "
        f"warm-up), so {spec.warmup_steps} warm-up and {spec.min_steps} timed steps cannot end within the row's "
        f"{spec.row_seconds:.0f} s"))


def probe(framework: str) -> list[DeviceSupport]:
    from batchmark.frameworks import load_backend

    return load_backend(framework).devices()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchmark.engine.worker")
    parser.add_argument("--parent", type=int, help="the pid of the parent: this process ends when it does")
    parser.add_argument("--lifeline", type=int, help="the read end of the parent's lifeline pipe")
    parser.add_argument("--probe", metavar="FRAMEWORK", help="list the devices FRAMEWORK can use, into PATH")
    parser.add_argument("path", help="the RunSpec JSON to run; with --probe, where to write the reply")
    arguments = parser.parse_args(argv[1:])
    if arguments.parent is not None:
        folder = Path(arguments.path).parent  # the parent's temporary folder: removed if the parent dies first
        die_with_parent(arguments.parent, arguments.lifeline, folder)
    if arguments.probe:
        try:
            devices = [device.__dict__ for device in probe(arguments.probe)]
            write_reply(arguments.path, WorkerReply(status="ok", devices=devices))
            return 0
        except Exception as error:  # a broken install must become a message, not a hang
            traceback.print_exc()
            write_reply(arguments.path, WorkerReply(status="failed", failure=classify(error)))
            return 1
    if (agent := os.environ.get(AGENT_VARIABLE)) is not None:  # a rank: it ends with torchrun's launcher
        die_with_parent(int(agent), None)
    spec = RunSpec.model_validate_json(Path(arguments.path).read_text())
    code = run_and_reply(spec)
    if spec.data_parallel:
        end_rank(code)
    return code


def run_and_reply(spec: RunSpec) -> int:
    for module in spec.plugins:
        importlib.import_module(module)
    try:
        output = run(spec)
    except BaseException as error:
        traceback.print_exc()
        failure = classify(error)
        if spec.data_parallel:  # the parent picks the rank that caused the failure among those that report one
            write_atomically(rank_reply_path(spec.reply_path, _global_rank()), failure.model_dump_json())
        else:
            write_reply(spec.reply_path, WorkerReply(status="failed", failure=failure))
        return 1
    if output.stopped_by == OVER_TIME_CAP:  # a row with no timed step: failed, with the warm-up it measured
        write_reply(spec.reply_path, WorkerReply(status="failed", output=output, failure=over_time_cap(spec, output)))
        return 0
    if not spec.data_parallel or _global_rank() == 0:
        write_reply(spec.reply_path, WorkerReply(status="ok", output=output))
    return 0


def end_rank(code: int) -> NoReturn:
    """A rank ends without Python's finalization: what it reports is on disk by now. Finalization races gloo's
    worker threads, kept alive by the process group that DistributedDataParallel still holds: one that releases
    its last collective's Python objects after the main thread has moved on wants the GIL while the interpreter
    finalizes, is ended by pthread_exit, and the unwind through a C++ destructor aborts the process. A rank that
    had measured every step then died of SIGABRT and failed its row (about 1 exit in 8 on two busy cores)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
