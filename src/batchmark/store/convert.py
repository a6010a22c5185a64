"""Between the results schema (pydantic) and the tables: a run goes in and comes back out unchanged."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import struct

from batchmark.machine import Fingerprint, describe_limits
from batchmark.results import (Calibration, Failure, NotRun, ResultsFile, Row, RowWarning, Screening, Statistics,
                               WorkerOutput, apply_energy, apply_peaks, apply_speedups)
from batchmark.store.tables import SAMPLE_SERIES, STATISTICS_COLUMNS, Machine, Result, Run, Sample

MODEL_LENGTH = Machine.cpu_model.type.length  # the column's

MEASURED_COLUMNS = ("setup_seconds", "peak_memory_bytes", "memory_kind", "forward_flops_per_sample",
                    "train_flops_per_sample", "device_name", "framework_version", "threads", "stopped_by",
                    "precision_target", "distributed_backend")
# A data-parallel row's own fields (0007); world_size is None in rows kept before it, which were one process.
SCALING_COLUMNS = ("aggregate_samples_per_second", "scaling_efficiency", "scaling_efficiency_ci_low",
                   "scaling_efficiency_ci_high")
# Energy per batch (0008), derived from the measured reading and kept as columns for the leaderboard.
ENERGY_COLUMNS = ("joules_per_batch", "average_watts", "samples_per_joule")


def hardware_of(machine: Fingerprint) -> dict:
    """What identifies a machine: the parts of the fingerprint that an update does not change. Drivers,
    the OS release and framework versions are software: they are kept per run, so a compare can show them."""
    cpu = machine.cpu
    # Keys and values exactly as when the fingerprint was a dict: the identity hash of a stored machine must
    # not change, or its next run would become a second machine.
    hardware = {
        "hostname": machine.hostname,
        "cpu": {key: getattr(cpu, key) for key in ("model", "arch", "flags", "physical_cores", "logical_cores")},
        "memory_bytes": machine.memory_bytes,
        "gpus": [{key: getattr(gpu, key) for key in ("kind", "name", "memory", "compute_capability")}
                 for gpu in machine.gpus],
        "system": machine.os.system,
    }
    # A CPU whose kernels were capped to fewer instruction sets (ONEDNN_MAX_CPU_ISA=AVX2 on an AVX-512 CPU) is
    # another machine as far as its numbers go: 1.5-2x slower here, without bf16. Only when capped, so that an
    # uncapped machine keeps its identity (migration 0009 moves the capped runs kept before).
    if machine.isa_limits:
        hardware["isa_limits"] = dict(machine.isa_limits)
    return hardware


def cpu_model_of(hardware: dict) -> str:
    """The CPU's name as listings show it, with its caps when capped (`hardware_of`): the listings show the
    model, and a capped entry must not read as the same machine as its uncapped one."""
    model = str(hardware["cpu"]["model"] or "unknown")
    if hardware.get("isa_limits"):
        model += f" (capped: {describe_limits(hardware['isa_limits'])})"
    return model[:MODEL_LENGTH]


def machine_identity(hardware: dict) -> str:
    return hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()


def owned_identity(identity: str, token_id: int) -> str:
    """The identity of a machine's entry for a token other than the one that first submitted it: the same
    hardware, another owner, so its runs never mix with the first owner's (migration 0006 freezes a copy)."""
    return hashlib.sha256(f"{identity}:token {token_id}".encode()).hexdigest()


def new_machine(fingerprint: Fingerprint) -> Machine:
    hardware = hardware_of(fingerprint)
    return Machine(
        identity=machine_identity(hardware), hostname=str(hardware["hostname"] or "unknown"),
        cpu_model=cpu_model_of(hardware), logical_cores=hardware["cpu"]["logical_cores"],
        memory_bytes=hardware["memory_bytes"], gpus=", ".join(gpu["name"] or "?" for gpu in hardware["gpus"]),
        hardware=hardware,
    )


def pack(values: list[float]) -> bytes:
    """A series as little-endian float64s: exact, 8 bytes a value, NaN (a diverged loss) kept as itself."""
    return struct.pack(f"<{len(values)}d", *values)


def unpack(packed: bytes) -> list[float]:
    return list(struct.unpack(f"<{len(packed) // 8}d", packed))


def parse_time(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def format_time(moment: dt.datetime | None) -> str | None:
    # SQLite hands back naive datetimes; every time batchmark writes is UTC.
    if moment is None:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)).astimezone(dt.timezone.utc).isoformat()


def new_run(results: ResultsFile, machine: Machine) -> Run:
    return Run(
        run_id=results.run_id, machine=machine, schema_version=results.schema_version,
        batchmark_version=results.batchmark_version, profile=results.profile, command=results.command,
        started_at=parse_time(results.started_at), finished_at=parse_time(results.finished_at),
        interrupted=results.interrupted, environment=results.machine.model_dump(mode="json"),
        calibration=results.calibration.model_dump() if results.calibration else None,
        **run_extras(results),
    )


def run_extras(results: ResultsFile) -> dict:
    """What a run learns as it goes (rows it could not afford, its in-run tunings), written again at its end."""
    return dict(budget_seconds=results.budget_seconds,
                not_run=[entry.model_dump(mode="json") for entry in results.not_run],
                screenings=[entry.model_dump(mode="json") for entry in results.screenings])


def new_result(row: Row, position: int) -> Result:
    values, samples = result_values(row, position)
    result = Result(**values)
    if row.measured is not None:
        result.samples = [Sample(series=series, packed=packed) for series, packed in samples]
    return result


def result_values(row: Row, position: int) -> tuple[dict, list[tuple[str, bytes]]]:
    """A row as the `results` table's columns (by attribute name), and its samples as (series, packed) pairs: what
    `new_result` builds an object from, and what a whole run's bulk insert (History.import_run) writes at once."""
    values = dict(
        position=position, workload=row.workload, framework=row.framework, plan_label=row.plan_label,
        plan=row.plan.as_dict(), device=row.plan.device, precision=row.plan.precision,
        batch_size=row.batch_size, image_size=row.image_size, status=row.status,
        failure_kind=row.failure.kind if row.failure else None,
        failure_message=row.failure.message if row.failure else None,
        failure_log=row.failure.log if row.failure else None,
        warnings=[warning.model_dump() for warning in row.warnings], flop_convention=row.flop_convention,
        samples_per_second=row.samples_per_second, compile_seconds=row.compile_seconds,
        measured=row.measured is not None, plan_source=row.plan_source, also_labels=list(row.also_labels),
        notes=list(row.notes), wall_seconds=row.wall_seconds, world_size=row.world_size,
        **{column: getattr(row, column) for column in SCALING_COLUMNS},
        **{column: getattr(row, column) for column in ENERGY_COLUMNS},
    )
    # Every row gets every column, so that a run's rows are one executemany whatever each row holds.
    values.update({column: getattr(row.measured, column) if row.measured else None for column in MEASURED_COLUMNS})
    values.update(energy=row.measured.energy.model_dump() if row.measured and row.measured.energy else None,
                  energy_missing=row.measured.energy_missing if row.measured else None,
                  clocks=[sample.model_dump() for sample in row.measured.clocks] if row.measured else None)
    values.update({column: getattr(row.statistics, column) if row.statistics else None
                   for column in STATISTICS_COLUMNS})
    samples = ([(series, pack(getattr(row.measured, series))) for series in SAMPLE_SERIES]
               if row.measured is not None else [])
    return values, samples


def row_of(result: Result) -> Row:
    measured = None
    if result.measured:
        series = {name: [] for name in SAMPLE_SERIES}
        series.update((sample.series, unpack(sample.packed)) for sample in result.samples)
        measured = WorkerOutput(**{column: getattr(result, column) for column in MEASURED_COLUMNS}, **series,
                                energy=result.energy, energy_missing=result.energy_missing, clocks=result.clocks or [])
    statistics = None
    if result.median is not None:
        statistics = Statistics(**{column: getattr(result, column) for column in STATISTICS_COLUMNS})
    failure = None
    if result.failure_kind is not None:
        failure = Failure(kind=result.failure_kind, message=result.failure_message or "", log=result.failure_log)
    row = Row(
        workload=result.workload, framework=result.framework, plan_label=result.plan_label, plan=result.plan,
        batch_size=result.batch_size, image_size=result.image_size, status=result.status, failure=failure,
        measured=measured, statistics=statistics, warnings=[RowWarning(**warning) for warning in result.warnings],
        samples_per_second=result.samples_per_second, compile_seconds=result.compile_seconds,
        flop_convention=result.flop_convention, plan_source=result.plan_source, also_labels=result.also_labels or [],
        notes=result.notes or [], wall_seconds=result.wall_seconds, world_size=result.world_size or 1,
        **{column: getattr(result, column) for column in SCALING_COLUMNS},
    )
    apply_energy(row)  # the per-batch figures and, without them, why: from the reading, as the run derived them
    return row


def results_of(run: Run) -> ResultsFile:
    rows = [row_of(result) for result in run.results]
    apply_speedups(rows)
    results = ResultsFile(
        schema_version=run.schema_version, batchmark_version=run.batchmark_version, run_id=run.run_id,
        command=run.command, profile=run.profile, started_at=format_time(run.started_at),
        finished_at=format_time(run.finished_at), interrupted=run.interrupted, machine=run.environment, rows=rows,
        calibration=Calibration.model_validate(run.calibration) if run.calibration else None,
        budget_seconds=run.budget_seconds, not_run=[NotRun.model_validate(entry) for entry in run.not_run or []],
        screenings=[Screening.model_validate(entry) for entry in run.screenings or []],
    )
    apply_peaks(results)
    return results
