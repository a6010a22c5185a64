"""Rich rendering of calibration and tuning: the measured peaks, and every candidate plan with its verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchmark.results import Calibration
from batchmark.tune.cache import TunedPlan
from batchmark.tune.workload import switches

VERDICT_STYLES = {"chosen": "bold green", "rejected": "red", "failed": "bold red", "not tried": "dim"}


def format_flops(value: float) -> str:
    return f"{value / 1e12:.3f} TFLOP/s" if value >= 1e12 else f"{value / 1e9:.1f} GFLOP/s"


def print_calibration(found: Calibration, console: Console) -> None:
    table = Table(title=f"Measured peak (best of 5 trials; {found.framework} {found.framework_version}, "
                        f"{found.measured_at[:19]}Z, {found.seconds:.1f} s)")
    for column in ("device", "precision", "peak", "reached by", "every operation"):
        table.add_column(column, justify="right" if column == "peak" else "left")
    for peak in found.peaks:
        table.add_row(peak.device, peak.precision, format_flops(peak.flops_per_second), peak.operation,
                      ", ".join(f"{name}: {format_flops(rate)}" for name, rate in peak.by_operation.items()))
    console.print(table)
    console.print(f"cached for this machine's fingerprint {found.fingerprint[:12]}; `--force` measures again",
                  highlight=False)


def ratio_text(seconds: float | None, baseline_seconds: float, is_baseline: bool) -> str:
    if seconds is None:
        return "—"
    if is_baseline:
        return "1.00x"
    speed = baseline_seconds / seconds
    return f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"


def print_tuning(title: str, tuned: TunedPlan, console: Console) -> None:
    base = tuned.baseline_plan
    table = Table(title=Text(f"tune {title} ({tuned.key.batch_shape})"))
    for column in ("plan (switches over baseline)", "stage", "steps", "s/batch median", "vs baseline", "verdict"):
        table.add_column(column, justify="right" if column in ("steps", "s/batch median", "vs baseline") else "left")
    for candidate in tuned.candidates:
        table.add_row(switches(candidate.plan, base), candidate.stage, str(candidate.steps),
                      "—" if candidate.median_seconds is None else f"{candidate.median_seconds:.4f}",
                      ratio_text(candidate.median_seconds, tuned.baseline_seconds, candidate.plan == base),
                      Text.assemble((candidate.verdict, VERDICT_STYLES.get(candidate.verdict, "")),
                                    f": {candidate.reason}" if candidate.reason else ""))
    console.print(table)
    for switch, reason in tuned.pruned:
        console.print(Text.assemble(("not measured ", "dim"), (switch, "bold"), f": {reason}"))
    for candidate in tuned.candidates:  # the one-line verdicts a user scans for: "XLA: 4.3x slower, rejected"
        if candidate.verdict == "rejected" and candidate.median_seconds and \
                candidate.median_seconds > tuned.baseline_seconds:
            console.print(Text(f"{switches(candidate.plan, base)}: "
                               f"{candidate.median_seconds / tuned.baseline_seconds:.1f}x slower, rejected", style="red"))
    chosen = tuned.plan
    if chosen == base:
        outcome = f"nothing beat the plain framework ({tuned.baseline_seconds:.4f} s/batch)"
    else:
        outcome = (f"{chosen.describe()}: {tuned.seconds:.4f} s/batch at the standard step count, "
                   f"{tuned.speedup:.2f}x faster than the baseline's {tuned.baseline_seconds:.4f} s")
    console.print(Text.assemble(("chosen: ", "bold"), (switches(chosen, base), "bold green"), f" — {outcome}"))
    console.print(f"tuning took {tuned.tuning_seconds:.0f} s of a {tuned.budget_seconds:.0f} s budget", highlight=False)


def print_tune_outcome(outcome, console: Console) -> None:
    """One TuneOutcome: its table, or the line saying why it is cached or failed (on stderr, as news)."""
    errors = Console(stderr=True)
    if outcome.failure is not None:
        errors.print(f"error: {outcome.workload} · {outcome.framework} not tuned: {outcome.failure}",
                     highlight=False, markup=False, soft_wrap=True)
        return
    if outcome.cached:
        errors.print(f"{outcome.workload} · {outcome.framework}: a tuned plan is cached "
                     f"({outcome.tuned.tuned_at[:19]}Z); `--force` tunes again", highlight=False, markup=False)
    print_tuning(f"{outcome.workload} · {outcome.framework}", outcome.tuned, console)
