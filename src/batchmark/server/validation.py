"""A submitted body to a ResultsFile the store can hold, or a one-line reason it is refused (422).

The results schema (`parse_results`) comes first, with its own messages. Then what that schema leaves
loose but the server relies on: the machine fingerprint's shape (pages read it), each plan's switches, the
store's column lengths, finite numbers, and strings a database can hold (no NUL, no lone surrogate).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import datetime
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from batchmark.engine.data_parallel import apply_scaling
from batchmark.errors import UsageError
from batchmark.frameworks import COMPILE_MODES, FRAMEWORKS
from batchmark.frameworks.runtime import inapplicable_switch
from batchmark.plans import (ALLOCATORS, ATTENTIONS, BLAS_LIBRARIES, DEVICES, OMP_WAIT_POLICIES, OPTIMIZERS,
                             PRECISIONS, Plan)
from batchmark.results import (ResultsFile, ResultsFormatError, apply_energy, apply_peaks, apply_speedups,
                               parse_results)
from batchmark.store.tables import Machine, Result, Run
from batchmark.telemetry.clocks import MAX_SAMPLES as MAX_CLOCK_SAMPLES, THROTTLE_REASONS


SOURCE = "request body"
MAX_ALSO_LABELS = 8
# Every list of a results file, rows and each row's samples included: a standard run has 20 rows of at most 50 timed
# steps; a list longer than this is not a run, and each item costs the server work to check and store.
MAX_ITEMS = 1000
INT32 = 2**31 - 1
INT64 = 2**63 - 1
# Run ids appear in URLs; batchmark makes them as 20261128T193006Z-0f9f72.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,63}$")
NAN_ALLOWED = re.compile(r"^rows\.\d+\.measured\.losses\.\d+$")  # a diverged loss is data, not an error


class SubmissionRefused(UsageError):
    """The body is not a results file this server stores; the message is the 422's one-line detail."""


class SubmittedPlan(BaseModel):
    """Every switch of batchmark.engine.plan.Plan, each one a value batchmark knows."""

    model_config = ConfigDict(extra="forbid")
    framework: Literal[tuple(FRAMEWORKS)]
    device: Literal[DEVICES]
    precision: Literal[PRECISIONS]
    compile: Literal[COMPILE_MODES]
    channels_last: bool
    threads: Optional[int] = Field(None, ge=1, le=INT32)
    # The runtime switches: absent from a plan written before they existed, which means their defaults.
    allocator: Literal[ALLOCATORS] = "system"
    omp_wait: Literal[OMP_WAIT_POLICIES] = "default"
    omp_bind: bool = False
    optimizer: Literal[OPTIMIZERS] = "default"
    onednn: Optional[bool] = None
    attention: Literal[ATTENTIONS] = "fused"
    blas: Literal[BLAS_LIBRARIES] = "bundled"


def parse_submission(body: bytes) -> tuple[ResultsFile, str]:
    """The results, with derived fields recomputed, and the sha256 that tells a resend from a clash."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise SubmissionRefused(f"{SOURCE}: not UTF-8 text") from None
    try:
        results = parse_results(text, SOURCE)
    except ResultsFormatError as error:
        raise SubmissionRefused(str(error)) from None
    except RecursionError:
        raise SubmissionRefused(f"{SOURCE}: JSON nested too deeply") from None
    data = results.model_dump(mode="python")
    for check in (lambda: bad_value(data), lambda: bad_shape(results), lambda: too_long(results),
                  lambda: bad_energy(results)):
        if problem := check():  # in order: each relies on the shape the one before checked
            raise SubmissionRefused(f"{SOURCE}: malformed results: {problem}")
    apply_speedups(results.rows)
    apply_scaling(results.rows)  # a submitted efficiency is recomputed from the samples, never taken on trust
    apply_peaks(results)
    for row in results.rows:
        apply_energy(row)  # a client's joules per batch are recomputed from its meter's reading
    canonical = json.dumps(results.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return results, hashlib.sha256(canonical.encode()).hexdigest()


def bad_value(data) -> str | None:
    """The first string no database can hold, or number that is not finite where a number must be."""
    pending = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if (problem := bad_string(f"{path}.{key}" if path else str(key), str(key))) is not None:
                    return problem
                pending.append((f"{path}.{key}" if path else str(key), item))
        elif isinstance(value, (list, tuple)):
            if len(value) > MAX_ITEMS:
                return f"{path}: {len(value)} items, this server takes at most {MAX_ITEMS} in any list"
            pending.extend((f"{path}.{index}", item) for index, item in enumerate(value))
        elif isinstance(value, str):
            if (problem := bad_string(path, value)) is not None:
                return problem
        elif isinstance(value, float) and not math.isfinite(value) and not NAN_ALLOWED.match(path):
            return f"{path}: must be a finite number, got {value}"
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64:
            return f"{path}: {value} is out of range"
    return None


def bad_string(path: str, text: str) -> str | None:
    if "\x00" in text:
        return f"{path}: contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{path}: is not valid Unicode (a lone surrogate)"
    return None


def first_error(error: ValidationError, prefix: str) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in (prefix, *first["loc"]))
    return f"{where}: {first['msg']}"


def bad_shape(results: ResultsFile) -> str | None:
    if not RUN_ID.match(results.run_id):
        return (f"run_id: {results.run_id!r} is not a run id (letters, digits and . _ : + - only, at most 64, "
                f"as batchmark makes them)")
    for name, stamp in (("started_at", results.started_at), ("finished_at", results.finished_at)):
        if stamp is not None:
            try:
                datetime.fromisoformat(stamp)
            except ValueError:
                return f"{name}: {stamp!r} is not an ISO 8601 time"
    for index, row in enumerate(results.rows):
        try:
            plan = SubmittedPlan.model_validate(row.plan.as_dict())
        except ValidationError as error:
            return first_error(error, f"rows.{index}.plan")
        if plan.framework != row.framework:
            return f"rows.{index}.framework: {row.framework!r} differs from its plan's framework {plan.framework!r}"
        if (problem := inapplicable_switch(Plan(**plan.model_dump()))) is not None:
            return f"rows.{index}.plan: {problem}"
    return None


# A meter's reading is the client's claim, and cheap to bound: the most one domain (a GPU, a CPU package) draws is
# about 1.2 kW (a GB200's GPU); a generous bound refuses made-up watts without refusing any real device.
MAX_WATTS_PER_DOMAIN = 2000.0
# The window spans the timed steps and the gaps between them, so it is never shorter than their sum; a client clock
# may round, so a little slack.
WINDOW_SLACK = 0.99


MAX_ENERGY_DOMAINS = 16  # a machine's GPUs or CPU packages in one row: 8 GPUs is the largest common node
MAX_TELEMETRY_TEXT = 200  # a domain's name ("GPU 0: NVIDIA H200"), and the reason there is no meter, shorter still
KNOWN_THROTTLE_REASONS = frozenset(THROTTLE_REASONS.values())


def bad_telemetry(row, where: str) -> str | None:
    """Clocks and meter text within what batchmark's own sampler and meters write: bounded lists of bounded
    strings, and throttle reasons by their known names (each is stored, and shown on the run page)."""
    measured = row.measured
    if len(measured.clocks) > MAX_CLOCK_SAMPLES:
        return f"{where}.clocks: {len(measured.clocks)} samples, at most {MAX_CLOCK_SAMPLES} a row"
    for position, sample in enumerate(measured.clocks):
        unknown = [reason for reason in sample.throttle_reasons if reason not in KNOWN_THROTTLE_REASONS]
        if unknown or len(sample.throttle_reasons) > len(KNOWN_THROTTLE_REASONS):
            return (f"{where}.clocks.{position}.throttle_reasons: {unknown[:1] or 'too many'}; allowed: "
                    f"{', '.join(sorted(KNOWN_THROTTLE_REASONS))}")
    if measured.energy_missing is not None and len(measured.energy_missing) > MAX_TELEMETRY_TEXT:
        return f"{where}.energy_missing: {len(measured.energy_missing)} characters, at most {MAX_TELEMETRY_TEXT}"
    reading = measured.energy
    if reading is not None and (len(reading.domains) > MAX_ENERGY_DOMAINS
                                or any(len(domain) > MAX_TELEMETRY_TEXT for domain in reading.domains)):
        return (f"{where}.energy.domains: at most {MAX_ENERGY_DOMAINS} names of at most {MAX_TELEMETRY_TEXT} "
                f"characters")
    return None


def bad_energy(results: ResultsFile) -> str | None:
    """An energy reading that cannot be: no positive watts, more than its domains can draw, or a window that does not
    hold the timed steps it claims; and clocks or meter text beyond what batchmark writes."""
    for index, row in enumerate(results.rows):
        if row.measured is not None and (problem := bad_telemetry(row, f"rows.{index}.measured")):
            return problem
        reading = row.measured.energy if row.measured is not None else None
        if reading is None:
            continue
        where = f"rows.{index}.measured.energy"
        watts, bound = reading.joules / reading.seconds, MAX_WATTS_PER_DOMAIN * max(len(reading.domains), 1)
        if not 0 < watts <= bound:
            return (f"{where}: {reading.joules:g} J over {reading.seconds:g} s is {watts:.4g} W; a reading must be "
                    f"positive and at most {bound:g} W ({MAX_WATTS_PER_DOMAIN:g} W per domain, "
                    f"{len(reading.domains)} domain(s))")
        steps = row.measured.step_seconds
        if reading.steps != len(steps):
            return f"{where}.steps: {reading.steps}, but the row has {len(steps)} timed steps"
        if reading.seconds < WINDOW_SLACK * sum(steps):
            return f"{where}.seconds: {reading.seconds:g} s is shorter than the {sum(steps):g} s of its timed steps"
    return None


def too_long(results: ResultsFile) -> str | None:
    """Strings longer than their column: PostgreSQL would refuse them at insert time, SQLite keep them."""
    hostname = results.machine.hostname or ""
    cpu_model = results.machine.cpu.model or ""
    gpus = ", ".join(gpu.name or "?" for gpu in results.machine.gpus)
    fields = [("machine.hostname", hostname, Machine.hostname), ("machine.cpu.model", cpu_model, Machine.cpu_model),
              ("machine.gpus (names joined)", gpus, Machine.gpus),
              ("batchmark_version", results.batchmark_version, Run.batchmark_version),
              ("profile", results.profile, Run.profile)]
    for index, row in enumerate(results.rows):
        if len(row.also_labels) > MAX_ALSO_LABELS:  # one plan under a few names, not a list to store
            return f"rows.{index}.also_labels: {len(row.also_labels)} names, at most {MAX_ALSO_LABELS}"
        fields += [(f"rows.{index}.also_labels.{position}", label, Result.plan_label)
                   for position, label in enumerate(row.also_labels)]
        fields += [(f"rows.{index}.workload", row.workload, Result.workload),
                   (f"rows.{index}.plan_label", row.plan_label, Result.plan_label),
                   (f"rows.{index}.plan_source", row.plan_source or "", Result.plan_source)]
        if row.measured is not None:
            fields += [(f"rows.{index}.measured.{name}", getattr(row.measured, name), getattr(Result, name))
                       for name in ("memory_kind", "device_name", "framework_version")]
    for where, text, column in fields:
        limit = column.property.columns[0].type.length
        if len(text) > limit:
            return f"{where}: {len(text)} characters, at most {limit} are stored"
    return None
