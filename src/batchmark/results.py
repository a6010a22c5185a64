"""The versioned results schema: what a worker returns and what a run writes to disk.

Raw samples are the data; statistics are derived from them and stored beside them for readers that do
not want to recompute. Bump SCHEMA_VERSION on any change a reader could trip over, and keep readers of
older versions working (the store and the server refuse versions they do not know).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, field_validator

from batchmark.errors import ResultsFormatError
from batchmark.files import write_atomically
from batchmark.machine import Fingerprint
from batchmark.plans import Plan, PlanSource

SCHEMA_VERSION = 1

FailureKind = Literal["oom", "crash", "timeout", "unsupported", "error", "interrupted"]

ABOVE_PEAK = "above_calibrated_peak"  # a row's warning code when it outran the calibrated peak
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

    @property
    def precision(self) -> float:
        """Half the CI's width as a fraction of the median: the precision the row reached (0.03 = ±3%)."""
        return (self.ci_high - self.ci_low) / 2 / self.median if self.median > 0 else math.inf


class RowWarning(BaseModel):
    code: str
    message: str


class EnergyReading(BaseModel):
    """What an energy meter counted over a row's timed steps: one reading just before the first timed step and one
    just after the last (telemetry/energy.py). Raw: the per-batch figures are derived from it (`apply_energy`)."""

    meter: str  # "nvml" (an NVIDIA GPU's total-energy counter) or "rapl" (the CPU packages' counters)
    domains: list[str]  # what it counted: "GPU 0: NVIDIA H200", "package-0"
    joules: float = Field(ge=0)
    seconds: float = Field(gt=0)  # the wall time between the two readings
    steps: int = Field(ge=1)  # the timed steps inside that window


class ClockSample(BaseModel):
    """The clocks at one moment of a row's timed steps, read by a sampling thread between (never inside) the
    framework's work (telemetry/clocks.py). A field is None where this machine has no such reading."""

    seconds: float  # since the first timed step began
    cpu_mhz: float | None = None  # the fastest core's current frequency: a throttle caps them all
    gpu_sm_mhz: float | None = None
    gpu_temperature_c: float | None = None
    throttle_reasons: list[str] = Field(default_factory=list)  # NVML's active thermal/power reasons, by name

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
    # Why timing stopped: "precision" (the median's CI reached the target), "time cap" (it did not, in the time
    # the row could have), "max steps", or "steps" (a fixed count). None in files written before it was kept.
    stopped_by: str | None = None
    precision_target: float | None = None  # the CI half-width asked for, as a fraction of the median
    # Data-parallel rows: the process group's backend ("gloo" on CPU, "nccl" on CUDA); None for one process.
    distributed_backend: Literal["gloo", "nccl"] | None = None
    # Energy over the timed steps, or why there is none (no meter here, or not readable by this user). Both None in
    # files written before energy was kept.
    energy: EnergyReading | None = None
    energy_missing: str | None = None
    clocks: list[ClockSample] = Field(default_factory=list)  # sampled during the timed steps; empty: no clock here

    @field_validator("losses", mode="before")
    @classmethod
    def _null_is_nan(cls, losses):
        # A diverged loss is data. JSON has no NaN, so it is written as null (pydantic's default) and read
        # back as NaN here; readers of the file or the API in any language get standard JSON.
        return [math.nan if loss is None else loss for loss in losses] if isinstance(losses, list) else losses


class Peak(BaseModel):
    """The best FLOP/s one device reached in one precision: the limit that % of peak is measured against."""

    device: str  # "cpu", "cuda", "mps"
    precision: str  # "fp32", "bf16", "fp16", "tf32"
    flops_per_second: float  # the best of several trials, the higher of the operations
    operation: str  # which operation reached it, with its shape
    by_operation: dict[str, float] = Field(default_factory=dict)  # each operation's best FLOP/s


class CalibrationConditions(BaseModel):
    """How quiet the machine was while its peak was measured; a calibration on a busy one is refused."""

    others_cpu_share: float  # other processes' share of the machine's CPU time during the trials
    load_average: float  # 1-minute load average when calibrating started
    logical_cores: int
    trial_spread: float  # the largest (best - median) / best over each operation's trials: how much they disagreed

    def describe(self) -> str:
        return (f"{self.others_cpu_share:.0%} of the CPU used by other processes, load average "
                f"{self.load_average:.1f} on {self.logical_cores} cores, trials within {self.trial_spread:.0%}")


class Calibration(BaseModel):
    """This machine's measured peaks, cached per machine fingerprint."""

    fingerprint: str  # sha256 of the fingerprint fields that decide the peak (hardware, framework version)
    framework: str
    framework_version: str
    measured_at: str
    seconds: float  # how long calibrating took
    peaks: list[Peak] = Field(default_factory=list)
    conditions: CalibrationConditions | None = None  # None in calibrations cached before conditions were kept

    def describe(self) -> str:
        """When and how quietly it was measured: shown wherever a % of peak is."""
        how = self.conditions.describe() if self.conditions else "conditions not recorded"
        return f"peak calibrated {self.measured_at[:16].replace('T', ' ')} UTC ({how})"

    def peak(self, device: str, precision: str) -> Peak | None:
        return next((p for p in self.peaks if p.device == device and p.precision == precision), None)


class Row(BaseModel):
    workload: str
    framework: str
    plan_label: str  # "baseline", "accelerated" or the switches as typed
    plan: Plan  # the exact plan, every switch
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
    # Where the plan came from: "static" (assumed switches), "tuned" (measured by `batchmark tune`), or None
    # for plans named switch by switch.
    plan_source: PlanSource | None = None
    # Other plan names of the run that resolved to exactly this plan ("accelerated" where no switch applies):
    # one plan is measured once and shown once, under all its names, never as two rows that differ by noise.
    also_labels: list[str] = Field(default_factory=list)
    # What else a reader must know about this row, one sentence each: how an in-run tuning chose its plan, or why
    # a plan name shares this row ("accelerated = baseline here: nothing measured faster").
    notes: list[str] = Field(default_factory=list)
    wall_seconds: float | None = None  # the whole worker: process start, build, warm-up, steps, FLOP counting
    # Processes that trained this row together (data-parallel, each on its own `batch_size`); 1 for one process.
    # `samples_per_second` and `statistics` are per rank: a step's time is the slowest rank's.
    world_size: int = Field(1, ge=1, le=2**20)
    aggregate_samples_per_second: float | None = None  # world_size x batch_size / median; derived (engine)
    # Aggregate throughput / (world_size x the one-process throughput of the same plan and threads in the same run),
    # with the bootstrap 95% CI of that ratio of medians; derived, None without such a reference row.
    scaling_efficiency: float | None = None
    scaling_efficiency_ci_low: float | None = None
    scaling_efficiency_ci_high: float | None = None
    achieved_flops_per_second: float | None = None  # train FLOPs per sample x samples/s; derived
    percent_of_peak: float | None = None  # of the run's calibrated peak for this row's device and precision; derived
    # From `measured.energy`; derived (apply_energy). None with `energy_note` saying why: no meter, or a window too
    # short for the meter's resolution.
    joules_per_batch: float | None = None
    average_watts: float | None = None
    samples_per_joule: float | None = None
    energy_note: str | None = None


class NotRun(BaseModel):
    """A row the suite's budget could not afford: named, with the arithmetic, never silently dropped."""

    workload: str
    framework: str
    plan_label: str
    reason: str


class Screening(BaseModel):
    """One in-run tuning: the accelerated plan of a (workload, framework) chosen by measuring, in this run."""

    workload: str
    framework: str
    seconds: float  # wall time of the short trials
    budget_seconds: float  # what it was allowed
    chosen: Plan
    candidates: list[str] = Field(default_factory=list)  # one line each: plan, verdict, median or reason
    pruned: list[str] = Field(default_factory=list)  # switches not measured here, with why


class ResultsFile(BaseModel):
    schema_version: int = SCHEMA_VERSION
    batchmark_version: str
    run_id: str
    command: list[str]
    profile: str
    started_at: str
    finished_at: str | None = None
    interrupted: bool = False
    machine: Fingerprint
    calibration: Calibration | None = None  # the machine's measured peaks, when calibrated
    rows: list[Row] = Field(default_factory=list)
    budget_seconds: float | None = None  # the suite's wall-clock budget; None: unlimited
    not_run: list[NotRun] = Field(default_factory=list)  # rows the budget could not afford
    screenings: list[Screening] = Field(default_factory=list)  # accelerated plans tuned in this run

    def write(self, path: Path) -> None:
        """Atomically: a reader (or a Ctrl-C) never sees half a file."""
        write_atomically(path, self.model_dump_json(indent=2))


def shape_of(item) -> tuple[str, str, int, int]:
    """What makes two rows (or jobs) measurements of one thing under different plans: the workload, the framework
    and the sizes."""
    return item.workload, item.framework, item.batch_size, item.image_size


def baseline_key(row: Row) -> tuple[str, str, int, int, int]:
    """Which baseline a row's speedup is against: the same shape, in as many processes."""
    return (*shape_of(row), row.world_size)


def apply_speedups(rows: list[Row], baselines: dict[tuple, float] | None = None) -> None:
    """speedup = baseline median / plan median, against the baseline of the same workload, framework, sizes and
    world size. `baselines` (baseline_key -> median) when some rows' baselines are not among `rows` (a page of a
    run's rows); by default the baselines among them.

    Derived, never stored: a reader recomputes it from the rows' medians."""
    if baselines is None:
        baselines = {baseline_key(row): row.statistics.median for row in rows
                     if row.status == "ok" and row.plan_label == "baseline"}
    for row in rows:
        base = baselines.get(baseline_key(row))
        row.speedup_vs_baseline = base / row.statistics.median if base and row.status == "ok" else None


def apply_peaks(results: "ResultsFile") -> None:
    """Achieved model FLOP/s and % of the calibrated peak of each ok row; derived, never stored.

    The peak is the one measured for the row's device and precision (fp32 rows against the fp32 peak, bf16
    autocast rows against the bf16 peak), so a row's % says how close that plan came to what the hardware
    reached in the same arithmetic."""
    for row in results.rows:
        row.achieved_flops_per_second = row.percent_of_peak = None
        if row.status != "ok" or row.measured is None or not row.measured.train_flops_per_sample:
            continue
        row.achieved_flops_per_second = row.measured.train_flops_per_sample * row.samples_per_second
        peak = results.calibration.peak(row.plan.device, row.plan.precision) \
            if results.calibration else None
        if peak is None or peak.flops_per_second <= 0:
            continue
        if row.achieved_flops_per_second <= peak.flops_per_second:
            row.percent_of_peak = 100.0 * row.achieved_flops_per_second / peak.flops_per_second
        elif not any(warning.code == ABOVE_PEAK for warning in row.warnings):
            # A row cannot outrun the hardware: the peak is what is wrong, measured on a busy machine (or under an
            # older calibration that did not refuse one). No % rather than a flattering one.
            row.warnings.append(RowWarning(code=ABOVE_PEAK, message=(
                f"{row.achieved_flops_per_second / 1e9:.1f} GFLOP/s is above this machine's calibrated "
                f"{row.plan.precision} peak of {peak.flops_per_second / 1e9:.1f} GFLOP/s "
                f"({results.calibration.describe()}): that peak was measured on a busy machine, so no % of peak "
                f"is shown; run `batchmark calibrate --force` on a quiet one")))


# NVML's energy counter moves every 20-100 ms: over a shorter window than this, two readings' difference is mostly
# where they fell on that grid, not the work done. Also applied to RAPL, whose counters move every millisecond, so
# that a row's energy means the same on every meter.
ENERGY_MIN_SECONDS = 1.0


def apply_energy(row: Row) -> None:
    """Joules per batch, average watts and samples per joule of a row, from its meter's reading over the timed steps;
    derived, never stored. Without a reading, or over a window too short to resolve, `energy_note` says why."""
    row.joules_per_batch = row.average_watts = row.samples_per_joule = row.energy_note = None
    if row.status != "ok" or row.measured is None:
        return
    reading = row.measured.energy
    if reading is None:
        row.energy_note = row.measured.energy_missing
    elif reading.seconds < ENERGY_MIN_SECONDS:
        row.energy_note = (f"the timed steps took {reading.seconds:.2f} s, under the {ENERGY_MIN_SECONDS:g} s an "
                           f"energy counter needs to be read to better than its update interval: too coarse to "
                           f"report; raise --steps")
    else:
        row.joules_per_batch = reading.joules / reading.steps
        row.average_watts = reading.joules / reading.seconds
        row.samples_per_joule = row.batch_size / row.joules_per_batch if row.joules_per_batch > 0 else None


# A results file nests about 6 levels deep (rows.0.measured.step_seconds.0); a fingerprint's extra fields a few
# more. Deeper JSON is not one, and would overflow the serializer (its limit is about 250) when written back.
MAX_NESTING = 32
# No count or size in a results file exceeds a 64-bit integer (memory in bytes is the largest).
MAX_INTEGER = 2**63 - 1


def parse_results(text: str, source: str) -> ResultsFile:
    """Validate a results JSON; the error is one line naming `source` and what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsFormatError(f"{source}: not JSON ({error})") from None
    except ValueError as error:  # an integer beyond Python's 4,300-digit conversion limit
        raise ResultsFormatError(f"{source}: not a results file ({str(error).split(';')[0]}; integers in a "
                                 f"results file are at most {MAX_INTEGER})") from None
    except RecursionError:
        raise ResultsFormatError(f"{source}: not a results file (JSON nested too deeply; at most "
                                 f"{MAX_NESTING} levels)") from None
    if (problem := out_of_bounds(data)) is not None:
        raise ResultsFormatError(f"{source}: not a results file ({problem})")
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


def out_of_bounds(data) -> str | None:
    """JSON no results file holds, which readers further on (the store, the serializer) cannot: nesting deeper
    than MAX_NESTING, or an integer beyond 64 bits. Walked without recursion, so any depth is safe to check."""
    pending = [(data, 1, "")]
    while pending:
        value, depth, path = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_NESTING:
                where = ".".join(path.split(".")[:3]) + "..."
                return f"{where}: nested more than {MAX_NESTING} levels deep (a results file needs about 8)"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            pending.extend((item, depth + 1, f"{path}.{key}" if path else str(key)) for key, item in items)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INTEGER:
            return f"{path}: an integer of {len(str(abs(value)))} digits; integers are at most {MAX_INTEGER}"
    return None


def load_results(path: Path) -> ResultsFile:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsFormatError(f"{path}: cannot read: {error}") from None
    return parse_results(text, str(path))
