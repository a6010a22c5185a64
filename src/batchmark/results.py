"""The versioned results schema: what a worker returns and what a run writes to disk.

Raw samples are the data; statistics are derived from them and stored beside them for readers that do
not want to recompute. Bump SCHEMA_VERSION on any change a reader could trip over, and keep readers of
older versions working (the store and the server refuse versions they do not know).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

SCHEMA_VERSION = 1

FailureKind = Literal["oom", "crash", "timeout", "unsupported", "error", "interrupted"]

FLOP_CONVENTION = (
    "2 FLOPs per multiply-accumulate of the matmul/conv/attention ops one training step runs, forward and "
    "backward (torch: torch.utils.flop_counter, grouped-conv weight gradients corrected; tensorflow: the traced "
    "step's graph; jax: the step's jaxpr); elementwise ops, normalisation and the optimizer are not counted"
)


class Failure(BaseModel):
    kind: FailureKind
    message: str  # one line: what went wrong
    log: str | None = None  # the worker's full output, kept beside the results file


class Statistics(BaseModel):
    """Of the timed steps' seconds; derived from `step_seconds`."""

    n: int
    median: float
    mean: float
    stdev: float
    q1: float
    q3: float
    iqr: float
    min: float
    max: float
    cv: float
    ci_low: float  # bootstrap 95% CI of the median
    ci_high: float


class RowWarning(BaseModel):
    code: str
    message: str


class WorkerOutput(BaseModel):
    """What one worker measured: the raw data of one (workload, plan) run."""

    setup_seconds: float  # build, place, load weights; not part of any step time
    warmup_seconds: list[float]  # each warm-up step, compilation included; never in the statistics
    step_seconds: list[float]  # each timed step, synchronized
    losses: list[float]
    peak_memory_bytes: int | None
    memory_kind: str  # what peak_memory_bytes measures, e.g. "process peak RSS" or "CUDA max allocated"
    forward_flops_per_sample: float | None
    train_flops_per_sample: float | None
    device_name: str
    framework_version: str
    threads: int | None  # intra-op threads the framework actually used


class Row(BaseModel):
    workload: str
    framework: str
    plan_label: str  # "baseline", "accelerated" or the switches as typed
    plan: dict  # the exact Plan, every switch
    batch_size: int
    image_size: int
    status: Literal["ok", "failed"]
    failure: Failure | None = None
    measured: WorkerOutput | None = None
    statistics: Statistics | None = None
    warnings: list[RowWarning] = Field(default_factory=list)
    samples_per_second: float | None = None  # batch_size / median seconds per batch
    compile_seconds: float | None = None  # warm-up time above the steady state, for compiled plans
    speedup_vs_baseline: float | None = None  # baseline median / this median: > 1 is faster
    flop_convention: str = FLOP_CONVENTION


class ResultsFile(BaseModel):
    schema_version: int = SCHEMA_VERSION
    batchmark_version: str
    run_id: str
    command: list[str]
    profile: str
    started_at: str
    finished_at: str | None = None
    interrupted: bool = False
    machine: dict
    rows: list[Row] = Field(default_factory=list)

    def write(self, path: Path) -> None:
        """Atomically: a reader (or a Ctrl-C) never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(handle, "w") as stream:
            stream.write(self.model_dump_json(indent=2))
        os.replace(temporary, path)


def apply_speedups(rows: list[Row]) -> None:
    """speedup = baseline median / plan median, against the baseline of the same workload, framework and sizes.

    Derived, never stored: a reader recomputes it from the rows' medians."""
    baselines = {
        (row.workload, row.framework, row.batch_size, row.image_size): row.statistics.median
        for row in rows if row.status == "ok" and row.plan_label == "baseline"
    }
    for row in rows:
        base = baselines.get((row.workload, row.framework, row.batch_size, row.image_size))
        row.speedup_vs_baseline = base / row.statistics.median if base and row.status == "ok" else None


class ResultsFormatError(ValueError):
    """A results JSON that this batchmark cannot read: malformed, or of a schema version it does not know."""


def parse_results(text: str, source: str) -> ResultsFile:
    """Validate a results JSON; the error is one line naming `source` and what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsFormatError(f"{source}: not JSON ({error})") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ResultsFormatError(f"{source}: not a batchmark results file (no schema_version)")
    version = data["schema_version"]
    if version != SCHEMA_VERSION:
        raise ResultsFormatError(f"{source}: results schema version {version!r} is not supported (this batchmark "
                                 f"reads version {SCHEMA_VERSION}; a newer file needs a newer batchmark)")
    try:
        return ResultsFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ResultsFormatError(f"{source}: malformed results: {where}: {first['msg']} "
                                 f"({error.error_count()} problem(s) in all)") from None


def load_results(path: Path) -> ResultsFile:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsFormatError(f"{path}: cannot read: {error}") from None
    return parse_results(text, str(path))
