"""Rich rendering of results: the table, then warnings and failures next to the rows they concern."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchmark.plans import Plan
from batchmark.results import ResultsFile, Row


def human_bytes(count: int | None) -> str:
    if count is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    raise AssertionError("unreachable")


def speedup_text(speedup: float | None, is_baseline: bool) -> Text:
    if speedup is None:
        return Text("—", style="dim")
    if is_baseline:
        return Text("1.00x", style="dim")
    if speedup >= 1:
        return Text(f"{speedup:.2f}x faster", style="green")
    return Text(f"{1 / speedup:.2f}x slower", style="bold red")


def plan_cell(row: Row) -> Text:
    text = Text(row.plan_label, style="bold")
    if row.plan_source:
        text.append(f" ({row.plan_source})", style="cyan" if row.plan_source == "tuned" else "dim")
    text.append(f"\n{row.plan.describe()}", style="dim")
    return text


def flops_text(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1e12:.2f} T" if value >= 1e12 else f"{value / 1e9:.0f} G"


def results_table(results: ResultsFile) -> Table:
    table = Table(title=f"Seconds per training batch — run {results.run_id} ({results.profile} profile)",
                  caption="lower is better; speedup = baseline median / plan median; model FLOP/s = training FLOPs "
                          "per sample × samples/s; % peak against this machine's calibrated peak for the row's "
                          "device and precision")
    table.add_column("workload", no_wrap=True)
    table.add_column("framework", no_wrap=True)
    table.add_column("plan")
    for header in ("batch", "s/batch median", "95% CI", "samples/s", "model FLOP/s", "% peak", "compile s",
                   "warm-up s", "peak mem", "vs baseline"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("notes")
    for index, row in enumerate(results.rows, start=1):
        batch = f"{row.batch_size}×{row.image_size}²"
        if row.status == "failed":
            table.add_row(row.workload, row.framework, plan_cell(row), batch, Text(f"FAILED ({row.failure.kind})", style="bold red"),
                          "", "", "", "", "", "", "", "", f"[{index}]")
            continue
        stats, measured = row.statistics, row.measured
        notes = f"[{index}] {len(row.warnings)} warning(s)" if row.warnings else ""
        table.add_row(
            row.workload, row.framework, plan_cell(row), batch,
            f"{stats.median:.4f}",
            f"{stats.ci_low:.4f}–{stats.ci_high:.4f}",
            f"{row.samples_per_second:.1f}",
            flops_text(row.achieved_flops_per_second),
            "—" if row.percent_of_peak is None else f"{row.percent_of_peak:.0f}%",
            "—" if row.compile_seconds is None else f"{row.compile_seconds:.1f}",
            f"{sum(measured.warmup_seconds):.1f}",
            human_bytes(measured.peak_memory_bytes),
            speedup_text(row.speedup_vs_baseline, row.plan_label == "baseline"),
            notes,
        )
    return table


def fastest_lines(results: ResultsFile) -> list[Text]:
    """Per workload, the fastest (framework, plan) measured, and how clearly it beat the runner-up."""
    lines = []
    for workload in dict.fromkeys(row.workload for row in results.rows):
        ranked = sorted((row for row in results.rows if row.workload == workload and row.status == "ok"),
                        key=lambda row: row.statistics.median)
        if len(ranked) < 2:
            continue
        best, second = ranked[0], ranked[1]
        ratio = second.statistics.median / best.statistics.median
        # Overlapping 95% CIs of the medians: the order of the two is not established by this run.
        clear = best.statistics.ci_high < second.statistics.ci_low
        verdict = (f"{ratio:.2f}x faster than" if clear else "within noise of") + \
            f" {second.framework} · {second.plan_label} ({second.statistics.median:.4f})"
        lines.append(Text.assemble((f"{workload}: ", "bold"), "fastest here is ",
                                   (f"{best.framework} · {best.plan_label}", "bold green"),
                                   f" at {best.statistics.median:.4f} s/batch, {verdict}"))
    return lines


def print_results(results: ResultsFile, console: Console) -> None:
    console.print(results_table(results))
    for line in fastest_lines(results):
        console.print(line)
    for index, row in enumerate(results.rows, start=1):
        # Text.assemble, not markup: failure messages quote user input and exceptions, brackets included.
        if row.status == "failed":
            console.print(Text.assemble(f"[{index}] ", (f"{row.workload} / {row.framework} / {row.plan_label} failed "
                                                          f"({row.failure.kind}): ", "bold red"), row.failure.message,
                                        (f" (log: {row.failure.log})" if row.failure.log else "", "dim")))
        for warning in row.warnings:
            console.print(Text.assemble(f"[{index}] ", (f"{row.workload} / {row.framework} / {row.plan_label}: ", "yellow"),
                                        warning.message))
    if results.interrupted:
        console.print("[bold yellow]Interrupted: the rows above finished and are saved; the rest did not run.[/]")
