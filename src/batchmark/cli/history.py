"""`batchmark history`, `show`, `import` and `export`: the runs kept in the history database."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from batchmark.cli.app import EXIT_USAGE, DatabaseOption, app, console, errors, fail_usage, open_history_or_exit

RunArgument = Annotated[str, typer.Argument(help="A run id, a unique prefix of one, latest, or latest~N.")]


def resolve_run(history, reference: str) -> str:
    from batchmark.store import StoreError

    try:
        return history.resolve(reference)
    except StoreError as error:
        raise fail_usage(str(error))


def load_run(history, reference: str):
    from batchmark.store import StoreError

    try:
        return history.load(resolve_run(history, reference))
    except StoreError as error:
        raise fail_usage(str(error))


def local_time(iso: str | None) -> str:
    if iso is None:
        return "—"
    return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")


@app.command("history")
def history_command(
    workload: Annotated[Optional[str], typer.Option(help="Only runs that measured this workload.")] = None,
    machine: Annotated[Optional[str], typer.Option(help="Only runs on machines whose hostname or CPU contains this.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs, newest first (0: all).")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print the runs as a JSON list.")] = False,
    database: DatabaseOption = None,
) -> None:
    """The runs in the history, newest first."""
    from batchmark.store import StoreError

    if limit < 0:
        raise fail_usage(f"--limit must be 0 or more, got {limit}.")
    history = open_history_or_exit(database)
    try:
        runs = history.runs(workload=workload, machine=machine, limit=limit or None)
    except StoreError as error:
        raise fail_usage(str(error))
    if as_json:
        print(json.dumps([dataclasses.asdict(run) for run in runs], indent=2))
        return
    if not runs:
        errors.print(f"no runs in {history.location}" + (" match" if workload or machine else "")
                     + "; `batchmark run` makes one", highlight=False, markup=False)
        return
    table = Table(title=f"History — {history.location}", caption="newest first; `batchmark show RUN` for one in full")
    for column in ("run", "started", "machine", "profile", "rows", "frameworks", "workloads"):
        table.add_column(column, no_wrap=column in ("run", "started"))
    for run in runs:
        rows = Text(f"{run.rows}")
        if run.failed:
            rows.append(f" ({run.failed} failed)", style="red")
        if run.interrupted:
            rows.append(" interrupted", style="yellow")
        gpus = f" · {run.gpus}" if run.gpus else ""
        table.add_row(run.run_id, local_time(run.started_at), Text(f"{run.hostname} · {run.cpu_model}{gpus}"),
                      run.profile, rows, ", ".join(run.frameworks), Text(", ".join(run.workloads)))
    console.print(table)


@app.command()
def show(
    run: RunArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's results JSON.")] = False,
    database: DatabaseOption = None,
) -> None:
    """One run in full: the table, plans, raw step samples, the machine's fingerprint and warnings."""
    from batchmark.cli.render_results import print_results

    results = load_run(open_history_or_exit(database), run)
    if as_json:
        print(results.model_dump_json(indent=2))
        return
    print_results(results, console)
    console.print(Text("Raw step seconds (the data every statistic above is derived from)", style="bold"))
    for index, row in enumerate(results.rows, start=1):
        if row.measured is None:
            continue
        steps = " ".join(f"{seconds:.4f}" for seconds in row.measured.step_seconds)
        warmup = " ".join(f"{seconds:.3f}" for seconds in row.measured.warmup_seconds)
        console.print(Text.assemble(f"[{index}] ", (f"{row.workload} / {row.framework} / {row.plan_label}", "bold"),
                                    f": {steps}", (f"  (warm-up: {warmup})" if warmup else "", "dim")))
    machine = results.machine
    console.print(Text("Machine", style="bold"))
    console.print(Text(json.dumps(machine, indent=2)))
    console.print(Text(f"run {results.run_id}: {local_time(results.started_at)} to {local_time(results.finished_at)}, "
                       f"batchmark {results.batchmark_version}, command: {' '.join(results.command)}", style="dim"))


@app.command("export")
def export_command(
    run: RunArgument,
    output: Annotated[Optional[Path], typer.Option(help="Write the JSON here instead of to stdout.")] = None,
    database: DatabaseOption = None,
) -> None:
    """A run as a results JSON file (the same versioned schema `batchmark run` writes)."""
    results = load_run(open_history_or_exit(database), run)
    if output is None:
        print(results.model_dump_json(indent=2))
        return
    try:
        results.write(output)
    except OSError as error:
        raise fail_usage(f"--output {output}: cannot write: {error.strerror}")
    errors.print(f"exported run {results.run_id} to {output}", highlight=False, markup=False)


@app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Results JSON files, as `batchmark run` or `export` writes them.")],
    database: DatabaseOption = None,
) -> None:
    """Add runs from results JSON files to the history. A run already there is skipped."""
    from batchmark.results import ResultsFormatError, load_results
    from batchmark.store import StoreError

    history = open_history_or_exit(database)
    refused = 0
    for path in files:
        try:
            results = load_results(path)
            added = history.import_run(results)
        except (ResultsFormatError, StoreError) as error:
            errors.print(f"error: {error}", highlight=False, markup=False, soft_wrap=True)
            refused += 1
            continue
        verb = "imported" if added else "already in the history:"
        errors.print(f"{verb} run {results.run_id} ({len(results.rows)} rows) from {path}", highlight=False,
                     markup=False, soft_wrap=True)
    if refused:
        raise typer.Exit(EXIT_USAGE)
