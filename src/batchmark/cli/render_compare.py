"""Rich rendering of a Comparison: the table of pairs, the geometric mean, then what was not compared and why."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchmark import wording
from batchmark.cli.render_results import styled
from batchmark.compare import Comparison, Pair


def _seconds(median: float | None) -> str:
    return wording.NOTHING if median is None else f"{median:.4f}"


def _switch(value: object) -> str:
    return "default" if value is None else str(value)  # a switch left unset is the framework's default


def plan_label(pair: Pair) -> str:
    return pair.plan_a if pair.plan_a == pair.plan_b else f"{pair.plan_a} → {pair.plan_b}"


def plan_cell(pair: Pair) -> Text:
    # Text, never markup: plan labels are typed by users and may hold brackets.
    text = Text(plan_label(pair), style="bold")
    for switch, (value_a, value_b) in pair.plan_differences.items():
        text.append(f"\n{switch} {_switch(value_a)} → {_switch(value_b)}", style="dim")
    return text


def ratio_cell(pair: Pair) -> Text:
    if pair.ratio is None:
        return Text(wording.NOTHING, style="dim")
    return Text(f"{pair.ratio:.3f} [{pair.ci_low:.3f}–{pair.ci_high:.3f}]")


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
                      _seconds(pair.median_b), ratio_cell(pair), styled(wording.verdict(pair)))
    return table


def detail_lines(comparison: Comparison) -> list[Text]:
    """Refused and failed pairs with their reasons, unmatched rows, then the warnings."""
    sentences = []
    for pair in comparison.pairs:
        if pair.status != "compared":
            place = wording.where(pair.workload, pair.framework, plan_label(pair))
            sentences.append(wording.not_compared(pair.status, place, pair.reason))
    for side, run, rows in (("A", comparison.run_a, comparison.unmatched_a),
                            ("B", comparison.run_b, comparison.unmatched_b)):
        sentences += [wording.unmatched(side, run.run_id, wording.where(row.workload, row.framework, row.plan))
                      for row in rows]
    sentences += [wording.compare_warning(warning.message) for warning in comparison.warnings]
    return [styled(words) for words in sentences]


def print_comparison(comparison: Comparison, console: Console) -> None:
    if comparison.pairs:
        console.print(comparison_table(comparison))
    console.print(styled(wording.comparison_summary(len(comparison.compared), comparison.geomean_ratio,
                                                    comparison.regressions)))
    for line in detail_lines(comparison):
        console.print(line)
