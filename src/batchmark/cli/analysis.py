"""`batchmark compare` and `report`: reading runs from the history and judging or drawing them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from batchmark.cli.app import DatabaseOption, RunArgument, app, console, say
from batchmark.errors import EXIT_FAILED, UsageError

DEFAULT_REPORT = Path("batchmark-report.html")


def parse_threshold(text: str) -> float:
    """'5%' or '0.05': the smallest change that counts."""
    value = text.strip()
    try:
        threshold = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise UsageError(f"--threshold {text!r} is not a number; give a percentage like 5% or a fraction like "
                         f"0.05") from None
    if not 0 < threshold < 1:
        raise UsageError(f"--threshold {text} is out of range; allowed: above 0% and below 100% (e.g. 5%)")
    return threshold


def parse_plan_pair(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    label_a, separator, label_b = text.partition(":")
    if not separator or not label_a.strip() or not label_b.strip():
        raise UsageError(f"--plans {text!r} must be two plan labels as A:B, e.g. baseline:accelerated or "
                         f"baseline:baseline,threads=1")
    return label_a.strip(), label_b.strip()


@app.command()
def compare(
    run_a: RunArgument,
    run_b: RunArgument,
    threshold: Annotated[str, typer.Option(help="The smallest change that counts: a percentage (5%) or a fraction.")] = "5%",
    plans: Annotated[Optional[str], typer.Option(
        help="Compare plan A of RUN_A with plan B of RUN_B (labels as A:B, e.g. baseline:accelerated); "
             "by default rows pair by equal plan labels.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON (format: batchmark.compare v1, "
                                                         "see docs/file-formats.md).")] = False,
    database: DatabaseOption = None,
) -> None:
    """Run B against run A: the ratio of medians B/A per row with a bootstrap CI, a verdict, and the geomean.
    Exits 1 when a row is significantly slower in B, so CI can gate on it."""
    from batchmark.api.runs import compare_runs
    from batchmark.cli.render_compare import print_comparison

    pair_labels = parse_plan_pair(plans)
    comparison = compare_runs(run_a, run_b, threshold=parse_threshold(threshold), plans=pair_labels,
                              database=database)
    if as_json:
        print(json.dumps(comparison.to_json(), indent=2))
    else:
        print_comparison(comparison, console)
    if not comparison.compared:
        raise UsageError(f"runs {comparison.run_a.run_id} and {comparison.run_b.run_id} have no pair of rows that "
                         f"can be compared" + ("" if pair_labels else "; to compare two different plans use --plans A:B"))
    if comparison.regressions:
        raise typer.Exit(EXIT_FAILED)


@app.command()
def report(
    runs: Annotated[Optional[list[str]], typer.Argument(help="Runs to draw (default: latest). Several runs are drawn "
                                                             "side by side, e.g. two machines.")] = None,
    output: Annotated[Path, typer.Option(help="Where to write the HTML file.")] = DEFAULT_REPORT,
    title: Annotated[Optional[str], typer.Option(help="The report's title.")] = None,
    database: DatabaseOption = None,
) -> None:
    """A self-contained HTML report (it opens offline): the seed article's charts, machine cards, every row."""
    from batchmark.api.runs import write_report

    path = write_report(runs or ["latest"], output, title=title, database=database)
    say(f"report: {path.resolve()}")
