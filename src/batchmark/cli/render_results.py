"""Rich rendering of results: the table, then warnings and failures next to the rows they concern."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from batchmark import wording
from batchmark.results import ResultsFile, Row
from batchmark.workloads.registry import batch_shape, throughput_text
from batchmark.wording import Phrase, Sentence, Tone

# One Rich style per tone, for every terminal renderer. Slower and failed are bold: a regression must not
# hide in a long table. Warnings are bold yellow, as compilers print theirs.
STYLES: dict[Tone, str] = {"good": "green", "bad": "bold red", "warn": "bold yellow", "muted": "dim",
                           "plain": "", "strong": "bold", "best": "bold green"}


def styled(words: Phrase | Sentence) -> Text:
    """Text, never markup: the words hold plan labels, messages and paths, brackets included."""
    if isinstance(words, Phrase):
        return Text(words.text, style=STYLES[words.tone])  # a table cell's padding takes the style too
    return Text.assemble(*((phrase.text, STYLES[phrase.tone]) for phrase in words))


def plan_cell(row: Row) -> Text:
    text = Text(wording.plan_name(row), style="bold")
    if row.plan_source:
        text.append(f" ({wording.plan_source(row.plan_source)})",
                    style="cyan" if row.plan_source in ("tuned", "screened") else "dim")
    text.append(f"\n{row.plan.describe()}", style="dim")
    note = wording.same_plan(row)
    if note is not None:
        text.append(f"\n{note.text}", style=STYLES[note.tone])
    return text


def flops_cell(value: float | None) -> str:
    # Under the "model FLOP/s" header the unit would only widen the column: "1.23 T", "456 G".
    if value is None:
        return wording.NOTHING
    return f"{value / 1e12:.2f} T" if value >= 1e12 else f"{value / 1e9:.0f} G"


def results_table(results: ResultsFile) -> Table:
    peak = f"; {results.calibration.describe()}" if results.calibration else "; no calibration: no % of peak"
    table = Table(title=f"Seconds per training batch — run {results.run_id} ({results.profile} profile)",
                  caption="lower is better; speedup = baseline median / plan median; model FLOP/s = training FLOPs "
                          "per sample × samples/s; % peak against this machine's calibrated peak for the row's "
                          f"device and precision{peak}")
    table.add_column("workload", no_wrap=True)
    table.add_column("framework", no_wrap=True)
    table.add_column("plan")
    for header in ("batch", "s/batch median", "95% CI", "samples/s", "model FLOP/s", "% peak", "compile s",
                   "warm-up s", "peak mem", "vs baseline"):
        table.add_column(header, justify="right", no_wrap=True)
    energy = wording.has_energy(results.rows)  # else one line under the table says why there is none
    for header in ("J/batch", "W", "samples/J") if energy else ():
        table.add_column(header, justify="right", no_wrap=True)
    table.add_column("notes")
    for index, row in enumerate(results.rows, start=1):
        batch = batch_shape(row.workload, row.batch_size, row.image_size)
        if row.status == "failed":
            table.add_row(row.workload, row.framework, plan_cell(row), batch, styled(wording.failed(row)),
                          "", "", "", "", "", "", "", "", *(("", "", "") if energy else ()), f"[{index}]")
            continue
        stats, measured = row.statistics, row.measured
        notes = f"[{index}] {len(row.warnings)} warning(s)" if row.warnings else ""
        table.add_row(
            row.workload, row.framework, plan_cell(row), batch,
            f"{stats.median:.4f}",
            f"{stats.ci_low:.4f}–{stats.ci_high:.4f} (±{stats.precision:.1%})",
            throughput_text(row.workload, row.image_size, row.samples_per_second),
            flops_cell(row.achieved_flops_per_second),
            wording.NOTHING if row.percent_of_peak is None else f"{row.percent_of_peak:.0f}%",
            wording.NOTHING if row.compile_seconds is None else f"{row.compile_seconds:.1f}",
            f"{sum(measured.warmup_seconds):.1f}",
            wording.human_bytes(measured.peak_memory_bytes),
            styled(wording.speedup(row.speedup_vs_baseline, row.plan_label == "baseline")),
            *(wording.energy_cells(row) if energy else ()),
            notes,
        )
    return table


def print_results(results: ResultsFile, console: Console) -> None:
    console.print(results_table(results))
    for line in wording.fastest(results):
        console.print(styled(line))
    for index, row in enumerate(results.rows, start=1):
        for note in row.notes:
            console.print(styled(wording.row_note(index, row, note)))
        if row.status == "failed":
            console.print(styled(wording.failure(index, row)))
        elif row.world_size > 1:
            console.print(styled(wording.scaling(index, row)))
        for warning in row.warnings:
            console.print(styled(wording.row_warning(index, row, warning)))
    for line in wording.energy_unavailable(results.rows):
        console.print(styled(line))
    for entry in results.not_run:
        console.print(styled(wording.not_run(entry)))
    if results.interrupted:
        console.print(styled(wording.interrupted()))
