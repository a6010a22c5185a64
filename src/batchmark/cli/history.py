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

from batchmark.cli.app import DatabaseOption, RunArgument, app, console, say
from batchmark.errors import EXIT_USAGE


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
    from batchmark.api.runs import list_runs

    runs, location = list_runs(workload=workload, machine=machine, limit=limit, database=database)
    if as_json:
        print(json.dumps([dataclasses.asdict(run) for run in runs], indent=2))
        return
    if not runs:
        say(f"no runs in {location}" + (" match" if workload or machine else "") + "; `batchmark run` makes one")
        return
    table = Table(title=Text(f"History — {location}"), caption="newest first; `batchmark show RUN` for one in full")
    for column in ("run", "started", "machine", "profile", "rows", "frameworks", "workloads"):
        table.add_column(column, no_wrap=column in ("run", "started"))
    for run in runs:
        rows = Text(f"{run.rows}")
        if run.failed:
            rows.append(f" ({run.failed} failed)", style="red")
        ending = run_ending(run)
        if ending:
            rows.append(f" {ending}", style="yellow")
        gpus = f" · {run.gpus}" if run.gpus else ""
        table.add_row(run.run_id, local_time(run.started_at), Text(f"{run.hostname} · {run.cpu_model}{gpus}"),
                      run.profile, rows, ", ".join(run.frameworks), Text(", ".join(run.workloads)))
    console.print(table)


def run_ending(run) -> str:
    """How a run in the history ended, when it did not simply finish; a `StoredRun`."""
    if run.state == "interrupted":
        return f"interrupted ({run.stopped_by})" if run.stopped_by else "interrupted"
    return {"running": "running",
            "unfinished": "unfinished (the process ended without finishing: killed?)",
            "elsewhere": f"not finished (on {run.hostname}: still running there, or killed)"}.get(run.state, "")


@app.command()
def show(
    run: RunArgument,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run's results JSON.")] = False,
    database: DatabaseOption = None,
) -> None:
    """One run in full: the table, plans, raw step samples, the machine's fingerprint and warnings."""
    from batchmark.api.runs import load_run
    from batchmark.cli.render_results import print_results

    results = load_run(run, database)
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
    console.print(Text("Machine", style="bold"))
    console.print(Text(results.machine.model_dump_json(indent=2)))
    console.print(Text(f"run {results.run_id}: {local_time(results.started_at)} to {local_time(results.finished_at)}, "
                       f"batchmark {results.batchmark_version}, command: {' '.join(results.command)}", style="dim"))


@app.command("export")
def export_command(
    run: RunArgument,
    output: Annotated[Optional[Path], typer.Option(help="Write the JSON here instead of to stdout.")] = None,
    database: DatabaseOption = None,
) -> None:
    """A run as a results JSON file (the same versioned schema `batchmark run` writes)."""
    from batchmark.api.runs import export_run, load_run

    if output is None:
        print(load_run(run, database).model_dump_json(indent=2))
        return
    results = export_run(run, output, database)
    say(f"exported run {results.run_id} to {output}")


@app.command("import")
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Results JSON files, as `batchmark run` or `export` writes them.")],
    database: DatabaseOption = None,
) -> None:
    """Add runs from results JSON files to the history. A run already there is skipped."""
    from batchmark.api.runs import import_runs

    outcomes = import_runs(files, database)
    for outcome in outcomes:
        if outcome.error:
            say(f"error: {outcome.error}")
        else:
            verb = "imported" if outcome.added else "already in the history:"
            say(f"{verb} run {outcome.run_id} ({outcome.rows} rows) from {outcome.path}")
    if any(outcome.error for outcome in outcomes):
        raise typer.Exit(EXIT_USAGE)
