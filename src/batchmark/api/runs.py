"""The runs kept in the history, as functions: list, load, import, export, compare two, draw a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from pydantic_core import PydanticSerializationError

from batchmark.compare import DEFAULT_THRESHOLD, Comparison, compare_results
from batchmark.errors import ResultsFormatError, StoreError, UsageError
from batchmark.results import ResultsFile, load_results
from batchmark.store import History, StoredRun, open_history

def load_run(reference: str, database: str | None = None, history: History | None = None) -> ResultsFile:
    """A run by id, unique id prefix, `latest` or `latest~N`."""
    history = history or open_history(database)
    return history.load(history.resolve(reference))


def list_runs(workload: str | None = None, machine: str | None = None, limit: int | None = 50,
              database: str | None = None) -> tuple[list[StoredRun], str]:
    """Newest first, and where they are kept. `machine` matches a hostname or CPU model by substring."""
    if limit is not None and limit < 0:
        raise UsageError(f"--limit must be 0 or more, got {limit}.")
    history = open_history(database)
    return history.runs(workload=workload, machine=machine, limit=limit or None), history.location


@dataclass
class Imported:
    path: Path
    run_id: str | None
    rows: int
    added: bool  # False: the run was in the history already
    error: str | None = None  # one line, when the file was refused


def import_runs(files: Sequence[Path], database: str | None = None) -> list[Imported]:
    """Add runs from results JSON files; each file is accepted or refused on its own."""
    history = open_history(database)
    outcomes = []
    for path in files:
        try:
            results = load_results(Path(path))
            added = history.import_run(results)
        except (ResultsFormatError, StoreError) as error:
            outcomes.append(Imported(Path(path), None, 0, False, str(error)))
            continue
        outcomes.append(Imported(Path(path), results.run_id, len(results.rows), added))
    return outcomes


def export_run(reference: str, output: Path, database: str | None = None) -> ResultsFile:
    results = load_run(reference, database)
    try:
        results.write(output)
    except OSError as error:
        raise UsageError(f"--output {output}: cannot write: {error.strerror}") from None
    except PydanticSerializationError as error:  # only a run imported before import refused such data
        raise StoreError(f"run {results.run_id} cannot be written as JSON ({str(error).splitlines()[0]}): it holds "
                         f"data a results file cannot, imported by an older batchmark") from None
    return results


def compare_runs(run_a: str | ResultsFile, run_b: str | ResultsFile, threshold: float = DEFAULT_THRESHOLD,
            plans: tuple[str, str] | None = None, database: str | None = None) -> Comparison:
    """Run B against run A (references into the history, or loaded results): per row the ratio of medians B/A
    with a bootstrap CI and a verdict. Raises UsageError when no pair of rows can be compared."""
    history = None if isinstance(run_a, ResultsFile) and isinstance(run_b, ResultsFile) else open_history(database)
    results_a = run_a if isinstance(run_a, ResultsFile) else load_run(run_a, history=history)
    results_b = run_b if isinstance(run_b, ResultsFile) else load_run(run_b, history=history)
    return compare_results(results_a, results_b, threshold=threshold, plans=plans)


def write_report(runs: Sequence[str | ResultsFile], output: Path, title: str | None = None,
           database: str | None = None) -> Path:
    """A self-contained HTML report of one run or several side by side; returns where it was written."""
    from batchmark.report import write_report as render_to  # Plotly and Jinja2: only when a report is written

    history = None if all(isinstance(run, ResultsFile) for run in runs) else open_history(database)
    loaded, seen = [], set()
    for run in runs:  # in the order given; a reference named twice is drawn once
        if isinstance(run, ResultsFile):
            loaded.append(run)
        elif run not in seen:
            seen.add(run)
            loaded.append(load_run(run, history=history))
    try:
        return render_to(loaded, Path(output), title=title)
    except OSError as error:
        raise UsageError(f"--output {output}: cannot write: {error.strerror}") from None
