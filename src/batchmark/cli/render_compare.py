"""Rich rendering of a Comparison: the table of pairs, the geometric mean, then what was not compared and why."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchmark.compare import Comparison, Pair
from batchmark.cli.render_results import speedup_text


def _seconds(median: float | None) -> str:
    return "—" if median is None else f"{median:.4f}"


def _switch(value: object) -> str:
    return "default" if value is None else str(value)  # a switch left unset is the framework's default


def plan_cell(pair: Pair) -> Text:
    # Text, never markup: plan labels are typed by users and may hold brackets.
    label = pair.plan_a if pair.plan_a == pair.plan_b else f"{pair.plan_a} → {pair.plan_b}"
    text = Text(label, style="bold")
    for switch, (value_a, value_b) in pair.plan_differences.items():
        text.append(f"\n{switch} {_switch(value_a)} → {_switch(value_b)}", style="dim")
    return text


def ratio_cell(pair: Pair) -> Text:
    if pair.ratio is None:
        return Text("—", style="dim")
    return Text(f"{pair.ratio:.3f} [{pair.ci_low:.3f}–{pair.ci_high:.3f}]")


def verdict_cell(pair: Pair) -> Text:
    if pair.status != "compared":
        return Text(pair.status.upper(), style="bold yellow")
    if pair.verdict == "no change":
        return Text(f"no change ({pair.reason})", style="dim")
    return speedup_text(1 / pair.ratio, is_baseline=False)  # "1.25x slower" in bold red, "… faster" in green


def comparison_table(comparison: Comparison) -> Table:
    run_a, run_b = comparison.run_a, comparison.run_b
    band = f"±{comparison.threshold * 100:g}%"
    # Text, not markup, for the run ids and the literal brackets.
    table = Table(title=Text(f"Seconds per training batch — B: run {run_b.run_id} vs A: run {run_a.run_id}"),
                  caption=Text(f"ratio = B median / A median, [95% bootstrap CI]; below 1 B is faster. A change "
                               f"counts beyond {band} with a CI that excludes 1"))
    table.add_column("workload", no_wrap=True)
    table.add_column("framework", no_wrap=True)
    table.add_column("plan")
    for header in ("A s/batch", "B s/batch", "B/A [95% CI]"):
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("verdict")
    for pair in comparison.pairs:
        table.add_row(Text(pair.workload), Text(pair.framework), plan_cell(pair), _seconds(pair.median_a),
                      _seconds(pair.median_b), ratio_cell(pair), verdict_cell(pair))
    return table


def summary_line(comparison: Comparison) -> Text:
    compared = comparison.compared
    if not compared:
        return Text("no pair of rows could be compared", style="bold yellow")
    geomean = comparison.geomean_ratio
    line = Text(f"geomean B/A over {len(compared)} rows: {geomean:.2f} "
                f"({speedup_text(1 / geomean, is_baseline=False).plain})")
    if comparison.regressions:
        line.append(f"; {comparison.regressions} significant regression(s)", style="bold red")
    return line


def _where(workload: str, framework: str, plan: str) -> str:
    return f"{workload} / {framework} / {plan}"


def detail_lines(comparison: Comparison) -> list[Text]:
    """Refused and failed pairs with their reasons, unmatched rows, then the warnings."""
    lines = []
    for pair in comparison.pairs:
        if pair.status != "compared":
            plan = pair.plan_a if pair.plan_a == pair.plan_b else f"{pair.plan_a} → {pair.plan_b}"
            lines.append(Text.assemble((f"{pair.status}: {_where(pair.workload, pair.framework, plan)}: ",
                                        "bold yellow"), pair.reason or ""))
    for side, run, rows in (("A", comparison.run_a, comparison.unmatched_a),
                            ("B", comparison.run_b, comparison.unmatched_b)):
        for row in rows:
            lines.append(Text(f"only in {side} (run {run.run_id}): {_where(row.workload, row.framework, row.plan)}",
                              style="dim"))
    for warning in comparison.warnings:
        lines.append(Text(f"warning: {warning.message}", style="yellow"))
    return lines


def print_comparison(comparison: Comparison, console: Console) -> None:
    if comparison.pairs:
        console.print(comparison_table(comparison))
    console.print(summary_line(comparison))
    for line in detail_lines(comparison):
        console.print(line)
