"""Compare two runs: per (workload, framework, plan), how B's seconds per batch relate to A's.

The ratio is B's median over A's, from the raw step times. Its 95% CI is a percentile bootstrap that
resamples each run's steps independently (the two runs' steps are not paired), the same approach as
`engine.stats`. A change is reported only when it is both large and established: beyond the threshold,
and with a CI that excludes 1. The threshold is symmetric in log space, so that "1.25x slower" and
"1.25x faster" need the same evidence: slower means B/A > 1 + t, faster means B/A < 1 / (1 + t).

Rows whose results cannot be compared are refused, not compared: a different batch size, image size,
precision or workload definition makes a ratio of seconds per batch meaningless. What only might explain
a difference (framework versions, the machine, the profile) is a warning.

Pure: no files, no printing. `batchmark.cli.render_compare` draws a Comparison; `batchmark.api.runs` reads the runs.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, computed_field

from batchmark.engine.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, CONFIDENCE, median_ratio_ci
from batchmark.errors import CompareError
from batchmark.machine import Fingerprint
from batchmark.results import ResultsFile, Row

JSON_FORMAT = """`batchmark compare --json`: format "batchmark.compare", format_version 1.

format_version is bumped on any change a reader could trip over; version 1 may gain keys, never lose or
redefine one. Seconds are seconds per training batch. Keys at the top level:

  format           "batchmark.compare"
  format_version   1
  threshold        the smallest change reported, a fraction (0.05 = 5%), symmetric in log space: "slower"
                   needs ratio > 1 + threshold, "faster" needs ratio < 1 / (1 + threshold)
  run_a, run_b     {"run_id", "machine": hostname or null, "started_at": as in the results file}
  pairs            one object per pair of rows, in run A's row order (below)
  unmatched_a      rows of A with no partner in B: [{"workload", "framework", "plan"}]; when two plans
                   are compared, only rows of A's plan are considered
  unmatched_b      the same for B
  geomean_ratio    geometric mean of "ratio" over the pairs with status "compared"; null when none
  warnings         [{"kind", "key", "a", "b", "message"}]: what differs between the runs and may explain
                   a change. kind is "framework_version" (key: the framework, from the rows' measured
                   versions), "hardware" or "software" (key: the machine fingerprint's field, dotted, e.g.
                   "cpu.model", "frameworks.torch", "gpus", "gpu driver"), or "profile". a and b are the
                   two values; message is the one line the terminal shows
  regressions      how many pairs have verdict "slower"; the command exits 1 when this is above 0

Each pair:

  workload, framework
  plan_a, plan_b   the plan labels of A's and B's row (equal unless two plans were named)
  status           "compared"; "refused": checked metadata differ (batch size, image size, precision,
                   FLOPs per sample); "failed": a row failed or has no timed steps
  median_a         median seconds per batch of A's raw steps; null when A has none
  median_b         the same for B
  ratio            median_b / median_a: below 1 B is faster; null unless compared
  ci_low, ci_high  95% percentile-bootstrap CI of ratio; null unless compared
  verdict          "faster", "slower" or "no change"; null unless compared
  reason           one line: why this verdict ("within ±5%", "95% CI includes 1", ...), which metadata
                   differ ("batch size 32 vs 16"), or which row failed and why
  plan_differences plan switches that differ: {"threads": [null, 1]} (A's value, B's value)
"""

FORMAT = "batchmark.compare"
FORMAT_VERSION = 1
DEFAULT_THRESHOLD = 0.05  # typical run-to-run drift on a quiet machine is 1-3%; 5% is a real change
# Counted FLOPs vary a little with tracing details; beyond this the model's arithmetic itself changed.
FLOPS_TOLERANCE = 0.005
# Top-level fingerprint keys that describe the hardware; every other key (and GPU drivers) is software.
HARDWARE_KEYS = ("hostname", "cpu", "memory_bytes", "gpus")

PairStatus = Literal["compared", "refused", "failed"]
Verdict = Literal["faster", "slower", "no change"]
WarningKind = Literal["framework_version", "hardware", "software", "profile"]


class ComparedRun(BaseModel):
    run_id: str
    machine: str | None  # hostname
    started_at: str


class RowKey(BaseModel):
    workload: str
    framework: str
    plan: str


class Pair(BaseModel):
    workload: str
    framework: str
    plan_a: str
    plan_b: str
    status: PairStatus
    median_a: float | None = None
    median_b: float | None = None
    ratio: float | None = None  # median B / median A
    ci_low: float | None = None
    ci_high: float | None = None
    verdict: Verdict | None = None
    reason: str | None = None
    plan_differences: dict[str, tuple[Any, Any]] = {}


class CompareWarning(BaseModel):
    kind: WarningKind
    key: str
    a: Any
    b: Any
    message: str


class Comparison(BaseModel):
    threshold: float
    run_a: ComparedRun
    run_b: ComparedRun
    pairs: list[Pair]
    unmatched_a: list[RowKey]
    unmatched_b: list[RowKey]
    geomean_ratio: float | None
    warnings: list[CompareWarning]

    @computed_field
    @property
    def regressions(self) -> int:
        return sum(1 for pair in self.pairs if pair.verdict == "slower")

    @property
    def compared(self) -> list[Pair]:
        return [pair for pair in self.pairs if pair.status == "compared"]

    @property
    def exit_code(self) -> int:
        """1 on any significant regression, so that CI can gate on it."""
        return 1 if self.regressions else 0

    def to_json(self) -> dict:
        """The documented, stable format: see JSON_FORMAT."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, **self.model_dump(mode="json")}


def compare_results(run_a: ResultsFile, run_b: ResultsFile, threshold: float = DEFAULT_THRESHOLD,
                 plans: tuple[str, str] | None = None, resamples: int = BOOTSTRAP_RESAMPLES,
                 seed: int = BOOTSTRAP_SEED) -> Comparison:
    """Rows pair by (workload, framework, plan label); with `plans=(label_a, label_b)`, A's rows of label_a
    pair with B's rows of label_b by (workload, framework). run_a may be run_b."""
    _check_arguments(run_a, run_b, threshold, plans, resamples)
    rows_a = [row for row in named_rows(run_a.rows) if plans is None or row.plan_label == plans[0]]
    rows_b = [row for row in named_rows(run_b.rows) if plans is None or row.plan_label == plans[1]]
    matched, only_a, only_b = pair_rows(rows_a, rows_b, match_labels=plans is None)
    pairs = [compare_pair(a, b, threshold, resamples, seed) for a, b in matched]
    ratios = [pair.ratio for pair in pairs if pair.status == "compared"]
    return Comparison(
        threshold=threshold, run_a=_summary(run_a), run_b=_summary(run_b), pairs=pairs,
        unmatched_a=[_key(row) for row in only_a], unmatched_b=[_key(row) for row in only_b],
        geomean_ratio=float(np.exp(np.mean(np.log(ratios)))) if ratios else None,
        warnings=version_warnings(matched) + machine_warnings(run_a.machine, run_b.machine)
        + profile_warnings(run_a, run_b),
    )


def _check_arguments(run_a: ResultsFile, run_b: ResultsFile, threshold: float, plans: tuple[str, str] | None,
                     resamples: int) -> None:
    if not threshold > 0:  # written so that NaN fails too
        raise CompareError(f"threshold {threshold} is not allowed: give a positive fraction, e.g. 0.05 for 5%")
    if resamples < 1:
        raise CompareError(f"resamples {resamples} is not allowed: give a positive count, e.g. {BOOTSTRAP_RESAMPLES}")
    if plans is None:
        return
    if len(plans) != 2:
        raise CompareError(f"plans {plans!r} is not allowed: give two labels, A's plan then B's")
    for run, label in zip((run_a, run_b), plans):
        labels = list(dict.fromkeys(row.plan_label for row in named_rows(run.rows)))
        if label not in labels:
            raise CompareError(f"plan '{label}' is not in run {run.run_id}; its plans: {', '.join(labels) or 'none'}")


def named_rows(rows: list[Row]) -> list[Row]:
    """One row per plan name: a plan measured once under several names ("baseline = accelerated", where no
    switch applies) pairs under each, so that a run where they differ compares with one where they do not."""
    return [row if not row.also_labels else row.model_copy(update={"plan_label": label, "also_labels": []})
            for row in rows for label in (row.plan_label, *row.also_labels)]


def pair_rows(rows_a: list[Row], rows_b: list[Row], match_labels: bool
              ) -> tuple[list[tuple[Row, Row]], list[Row], list[Row]]:
    """Matched pairs in A's order, then A's and B's rows left without a partner. Repeated keys pair in
    order, so that no row is silently dropped."""
    def key(row: Row) -> tuple:
        return (row.workload, row.framework, row.plan_label) if match_labels else (row.workload, row.framework)

    waiting: dict[tuple, list[Row]] = {}
    for row in rows_b:
        waiting.setdefault(key(row), []).append(row)
    matched, only_a = [], []
    for row in rows_a:
        partners = waiting.get(key(row))
        if partners:
            matched.append((row, partners.pop(0)))
        else:
            only_a.append(row)
    left = {id(row) for partners in waiting.values() for row in partners}
    return matched, only_a, [row for row in rows_b if id(row) in left]


def compare_pair(a: Row, b: Row, threshold: float, resamples: int, seed: int) -> Pair:
    common = dict(workload=a.workload, framework=a.framework, plan_a=a.plan_label, plan_b=b.plan_label,
                  median_a=_median(a), median_b=_median(b), plan_differences=plan_differences(a, b))
    failures = [reason for reason in (_unusable("A", a), _unusable("B", b)) if reason]
    if failures:
        return Pair(status="failed", reason="; ".join(failures), **common)
    mismatches = metadata_mismatches(a, b)
    if mismatches:
        return Pair(status="refused", reason="; ".join(mismatches), **common)
    ratio, ci_low, ci_high = median_ratio_ci(a.measured.step_seconds, b.measured.step_seconds, resamples, seed)
    verdict, reason = judge(ratio, ci_low, ci_high, threshold)
    return Pair(status="compared", ratio=ratio, ci_low=ci_low, ci_high=ci_high, verdict=verdict, reason=reason,
                **common)


def _unusable(side: str, row: Row) -> str | None:
    if row.status == "failed":
        return f"{side} failed ({row.failure.kind}): {row.failure.message}" if row.failure else f"{side} failed"
    if row.measured is None or not row.measured.step_seconds:
        return f"{side} has no timed steps"
    return None


def _median(row: Row) -> float | None:
    return float(np.median(row.measured.step_seconds)) if row.measured and row.measured.step_seconds else None


def metadata_mismatches(a: Row, b: Row) -> list[str]:
    """What makes seconds per batch of A and B measure different work, each as "field A vs B"."""
    found = [f"{name} {value_a} vs {value_b}" for name, value_a, value_b in (
        ("batch size", a.batch_size, b.batch_size),
        ("image size", a.image_size, b.image_size),
        ("precision", a.plan.precision, b.plan.precision),
    ) if value_a != value_b]
    # The workload's name can stay while its definition changes; its FLOPs at this image size cannot.
    # One FLOPs line is enough: forward and train change together.
    for name, field in (("forward FLOPs per sample", "forward_flops_per_sample"),
                        ("train FLOPs per sample", "train_flops_per_sample")):
        flops_a, flops_b = getattr(a.measured, field), getattr(b.measured, field)
        if flops_a is not None and flops_b is not None and \
                abs(flops_a - flops_b) > FLOPS_TOLERANCE * max(abs(flops_a), abs(flops_b)):
            return [*found, f"{name} {flops_a:.4g} vs {flops_b:.4g} (the workload's definition changed)"]
    return found


def plan_differences(a: Row, b: Row) -> dict[str, tuple[Any, Any]]:
    """Switches that differ: what a comparison of two plans is about, shown rather than refused."""
    return a.plan.differences(b.plan)


def judge(ratio: float, ci_low: float, ci_high: float, threshold: float) -> tuple[Verdict, str]:
    """The verdict and the one line that justifies it."""
    band = f"±{threshold * 100:g}%"
    ci = f"{CONFIDENCE:.0%} CI"
    if ratio > 1 + threshold and ci_low > 1:
        return "slower", f"beyond {band} and the {ci} excludes 1"
    if ratio < 1 / (1 + threshold) and ci_high < 1:
        return "faster", f"beyond {band} and the {ci} excludes 1"
    if 1 / (1 + threshold) <= ratio <= 1 + threshold:
        return "no change", f"within {band}"
    return "no change", f"{ci} includes 1" if ci_low <= 1 <= ci_high else f"{ci} disagrees with the median ratio"


def version_warnings(matched: list[tuple[Row, Row]]) -> list[CompareWarning]:
    """Per framework, the versions that measured the paired rows, where A's and B's differ."""
    versions: dict[str, tuple[set[str], set[str]]] = {}
    for a, b in matched:
        seen_a, seen_b = versions.setdefault(a.framework, (set(), set()))
        seen_a.update([a.measured.framework_version] if a.measured else [])
        seen_b.update([b.measured.framework_version] if b.measured else [])
    warnings = []
    for framework, (seen_a, seen_b) in versions.items():
        if seen_a and seen_b and seen_a != seen_b:
            shown_a, shown_b = ", ".join(sorted(seen_a)), ", ".join(sorted(seen_b))
            warnings.append(CompareWarning(kind="framework_version", key=framework, a=shown_a, b=shown_b,
                                           message=f"framework version differs: {framework} {shown_a} → {shown_b}"))
    return warnings


def _flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def fingerprint_fields(fingerprint: Fingerprint) -> dict[str, Any]:
    """The fingerprint as dotted keys. GPUs become two lists, models and drivers, so that eight GPUs
    changing model is one warning, not twenty-four."""
    machine = fingerprint.model_dump()
    gpus = machine.get("gpus") or []
    fields = _flatten({key: value for key, value in machine.items() if key != "gpus"})
    fields["gpus"] = [" ".join(str(gpu[part]) for part in ("name", "memory") if gpu.get(part)) for gpu in gpus]
    fields["gpu driver"] = sorted({str(gpu["driver"]) for gpu in gpus if gpu.get("driver")})
    return fields


def _shown(key: str, value: Any) -> str:
    if value is None or value == []:
        return "none"
    if isinstance(value, list):
        return ", ".join(map(str, value))
    if key == "memory_bytes" and isinstance(value, (int, float)):
        return f"{value / 2**30:.1f} GiB"
    return str(value)


def machine_warnings(machine_a: Fingerprint, machine_b: Fingerprint) -> list[CompareWarning]:
    """Fingerprint fields that differ, hardware first: a different machine explains more than a library."""
    fields_a, fields_b = fingerprint_fields(machine_a), fingerprint_fields(machine_b)
    warnings = []
    for key in dict.fromkeys([*fields_a, *fields_b]):
        value_a, value_b = fields_a.get(key), fields_b.get(key)
        if value_a != value_b:
            kind = "hardware" if key.split(".")[0] in HARDWARE_KEYS else "software"
            warnings.append(CompareWarning(kind=kind, key=key, a=value_a, b=value_b,
                                           message=f"{kind} differs: {key}: {_shown(key, value_a)} → "
                                                   f"{_shown(key, value_b)}"))
    return sorted(warnings, key=lambda warning: warning.kind != "hardware")


def profile_warnings(run_a: ResultsFile, run_b: ResultsFile) -> list[CompareWarning]:
    if run_a.profile == run_b.profile:
        return []
    return [CompareWarning(kind="profile", key="profile", a=run_a.profile, b=run_b.profile,
                           message=f"profile differs: {run_a.profile} → {run_b.profile}; measure both with "
                                   "the same profile")]


def _summary(run: ResultsFile) -> ComparedRun:
    return ComparedRun(run_id=run.run_id, machine=run.machine.hostname, started_at=run.started_at)


def _key(row: Row) -> RowKey:
    return RowKey(workload=row.workload, framework=row.framework, plan=row.plan_label)
