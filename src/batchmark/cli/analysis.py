"""`batchmark compare` and `report`: reading runs from the history and judging or drawing them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from batchmark.cli.app import EXIT_FAILED_ROWS, DatabaseOption, app, console, errors, fail_usage, open_history_or_exit
from batchmark.cli.history import RunArgument, load_run

DEFAULT_REPORT = Path("batchmark-report.html")


def parse_threshold(text: str) -> float:
    """'5%' or '0.05': the smallest change that counts."""
    value = text.strip()
    try:
        threshold = float(value[:-1]) / 100 if value.endswith("%") else float(value)
    except ValueError:
        raise fail_usage(f"--threshold {text!r} is not a number; give a percentage like 5% or a fraction like 0.05")
    if not 0 < threshold < 1:
        raise fail_usage(f"--threshold {text} is out of range; allowed: above 0% and below 100% (e.g. 5%)")
    return threshold


def parse_plans(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    label_a, separator, label_b = text.partition(":")
    if not separator or not label_a.strip() or not label_b.strip():
        raise fail_usage(f"--plans {text!r} must be two plan labels as A:B, e.g. baseline:accelerated or "
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
                                                         "see the README).")] = False,
    database: DatabaseOption = None,
) -> None:
    """Run B against run A: the ratio of medians B/A per row with a bootstrap CI, a verdict, and the geomean.
    Exits 1 when a row is significantly slower in B, so CI can gate on it."""
    from batchmark.compare import CompareError, compare_runs
    from batchmark.cli.render_compare import print_comparison

    limit = parse_threshold(threshold)
    pair_labels = parse_plans(plans)
    history = open_history_or_exit(database)
    results_a, results_b = load_run(history, run_a), load_run(history, run_b)
    try:
        comparison = compare_runs(results_a, results_b, threshold=limit, plans=pair_labels)
    except CompareError as error:
        raise fail_usage(str(error))
    if as_json:
        print(json.dumps(comparison.to_json(), indent=2))
    else:
        print_comparison(comparison, console)
    if not comparison.compared:
        raise fail_usage(f"runs {results_a.run_id} and {results_b.run_id} have no pair of rows that can be compared"
                         + ("" if pair_labels else "; to compare two different plans use --plans A:B"))
    if comparison.regressions:
        raise typer.Exit(EXIT_FAILED_ROWS)


@app.command()
def report(
    runs: Annotated[Optional[list[str]], typer.Argument(help="Runs to draw (default: latest). Several runs are drawn "
                                                             "side by side, e.g. two machines.")] = None,
    output: Annotated[Path, typer.Option(help="Where to write the HTML file.")] = DEFAULT_REPORT,
    title: Annotated[Optional[str], typer.Option(help="The report's title.")] = None,
    database: DatabaseOption = None,
) -> None:
    """A self-contained HTML report (it opens offline): the seed article's charts, machine cards, every row."""
    from batchmark.report import write_report

    history = open_history_or_exit(database)
    references = list(dict.fromkeys(runs or ["latest"]))
    loaded = [load_run(history, reference) for reference in references]
    try:
        path = write_report(loaded, output, title=title)
    except OSError as error:
        raise fail_usage(f"--output {output}: cannot write: {error.strerror}")
    errors.print(f"report: {path.resolve()}", highlight=False, markup=False, soft_wrap=True)
