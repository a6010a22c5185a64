"""Rich rendering of calibration and tuning: the measured peaks, and every candidate plan with its verdict."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchmark import wording
from batchmark.cli.app import say
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
    console.print(Text(found.describe()))
    console.print(f"cached for this machine's fingerprint {found.fingerprint[:12]}; `--force` measures again",
                  highlight=False)


def screening_baseline(tuned: TunedPlan) -> float:
    """The baseline's median from its short trials: what each candidate's short trials are ranked against."""
    return next((candidate.median_seconds for candidate in tuned.candidates
                 if candidate.plan == tuned.baseline_plan and candidate.median_seconds), tuned.baseline_seconds)


def outcome_text(tuned: TunedPlan) -> str:
    chosen, base = tuned.plan, tuned.baseline_plan
    if chosen == base:
        return f"nothing beat the plain framework ({screening_baseline(tuned):.4f} s/batch in its short trials)"
    if not tuned.measured_alike:  # cached by a batchmark that re-measured only the winner
        return (f"{chosen.describe()}: {tuned.seconds:.4f} s/batch at the standard step count; the "
                f"{tuned.speedup:.2f}x over the baseline's short trials is a screening estimate, not a "
                f"measurement (`--force` tunes again and measures both alike)")
    low, high = tuned.speedup_ci
    return (f"{chosen.describe()}: {tuned.seconds:.4f} s/batch against the baseline's {tuned.baseline_seconds:.4f} s, "
            f"both at the standard step count: {tuned.speedup:.2f}x faster (95% CI {low:.2f}-{high:.2f})")


def print_tuning(title: str, tuned: TunedPlan, console: Console) -> None:
    base = tuned.baseline_plan
    screening = screening_baseline(tuned)
    table = Table(title=Text(f"tune {title} ({tuned.key.batch_shape})"))
    # Short trials rank plans against the baseline's short trials; only the chosen plan's speedup, below the
    # table, is between two standard measurements.
    for column in ("plan (switches over baseline)", "stage", "steps", "s/batch median", "vs baseline (screening)",
                   "verdict"):
        table.add_column(column, justify="left" if column in ("plan (switches over baseline)", "stage", "verdict")
                         else "right")
    for candidate in tuned.candidates:
        table.add_row(switches(candidate.plan, base), candidate.stage, str(candidate.steps),
                      "—" if candidate.median_seconds is None else f"{candidate.median_seconds:.4f}",
                      wording.speedup(screening / candidate.median_seconds if candidate.median_seconds else None,
                                      is_baseline=candidate.plan == base).text,
                      Text.assemble((candidate.verdict, VERDICT_STYLES.get(candidate.verdict, "")),
                                    f": {candidate.reason}" if candidate.reason else ""))
    console.print(table)
    for switch, reason in tuned.pruned:
        console.print(Text.assemble(("not measured ", "dim"), (switch, "bold"), f": {reason}"))
    for candidate in tuned.candidates:  # the one-line verdicts a user scans for: "XLA: 4.3x slower, rejected"
        if candidate.verdict == "rejected" and candidate.median_seconds and candidate.median_seconds > screening:
            console.print(Text(f"{switches(candidate.plan, base)}: {candidate.median_seconds / screening:.1f}x slower "
                               f"in its short trials, rejected", style="red"))
    console.print(Text.assemble(("chosen: ", "bold"), (switches(tuned.plan, base), "bold green"),
                                f" — {outcome_text(tuned)}"))
    console.print(f"tuning took {tuned.tuning_seconds:.0f} s of a {tuned.budget_seconds:.0f} s budget", highlight=False)


def print_tune_outcome(outcome, console: Console) -> None:
    """One TuneOutcome: its table, or the line saying why it is cached or failed (on stderr, as news)."""
    if outcome.failure is not None:
        say(f"error: {outcome.workload} · {outcome.framework} not tuned: {outcome.failure}")
        return
    if outcome.cached:
        say(f"{outcome.workload} · {outcome.framework}: a tuned plan is cached ({outcome.tuned.tuned_at[:19]}Z); "
            f"`--force` tunes again")
    print_tuning(f"{outcome.workload} · {outcome.framework}", outcome.tuned, console)
