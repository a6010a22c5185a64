"""The report page: one HTML file, scripts and styles inline, that opens offline and can be mailed around.

Everything a user typed or a machine reported (hostnames, plan labels, failure messages) reaches the page
through Jinja2 with autoescaping on; only our own CSS, plotly.js and Plotly's escaped JSON are marked safe.
"""

from __future__ import annotations

import json


from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path

import jinja2
import plotly.graph_objects as go
import plotly.io
from markupsafe import Markup

from batchmark import wording
from batchmark.files import write_atomically
from batchmark.machine import Fingerprint, describe_limits
from batchmark.report.charts import batch_text, build_figures, is_measured, run_labels, samples_per_second_text
from batchmark.report.tones import css_class, said
from batchmark.results import FLOP_CONVENTION, ResultsFile, Row
from batchmark.wording import Sentence

DEFAULT_TITLE = "Seconds per training batch"
PLOT_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass(frozen=True)
class Cell:
    """A number as the table shows it, with its exact value in `data-value` for anyone checking."""

    field: str
    text: str
    value: str | None = None  # None: there is no number here, only text such as "—"
    css: str = ""
    title: str = ""


@dataclass
class TableRow:
    run_label: str
    row: Row
    plan_switches: list[str]  # Plan.describe() in words, less the framework its own column shows
    starts_group: bool  # the first row of its workload: the table names the workload once per group
    cells: list[Cell] = field(default_factory=list)


def exact(value: float | int | None) -> str | None:
    """repr is the shortest string that reads back to the same float, in Python and in JavaScript."""
    return None if value is None else repr(value)


def speedup_cell(row: Row) -> Cell:
    phrase = wording.speedup(row.speedup_vs_baseline, is_baseline=row.plan_label == "baseline")
    return Cell("speedup", phrase.text, exact(row.speedup_vs_baseline), css_class(phrase.tone))


def flops_per_second_cell(row: Row) -> Cell:
    flops = row.measured.train_flops_per_sample if row.measured else None
    if flops is None or row.samples_per_second is None:
        return Cell("flops", wording.NOTHING, css="muted")
    achieved = flops * row.samples_per_second
    share = "" if row.percent_of_peak is None else f" · {row.percent_of_peak:.0f}% of peak"
    return Cell("flops", f"{wording.flops_per_second(achieved, decimals=1)}{share}", exact(achieved),
                title=f"{flops / 1e9:.2f} GFLOP per training sample × samples/s"
                      + (f"; % of this machine's calibrated {row.plan.precision} peak" if share else ""))


def energy_cell(row: Row) -> Cell:
    """Joules per batch and samples per joule; "n/a" where no meter read the row, its reason in the footer."""
    if row.joules_per_batch is None:
        return Cell("energy", wording.NOT_AVAILABLE, css="muted", title=row.energy_note or "")
    reading = row.measured.energy
    per_joule = "" if row.samples_per_joule is None else f" · {row.samples_per_joule:.3g} samples/J"
    return Cell("energy", f"{row.joules_per_batch:.3g} J{per_joule}", exact(row.joules_per_batch),
                title=f"{row.average_watts:.3g} W on average over {reading.seconds:.1f} s of timed steps "
                      f"({reading.meter}: {', '.join(reading.domains)})")


def energy_reasons(runs: list[ResultsFile]) -> list[str]:
    """Why energy is n/a, each reason once across the runs shown."""
    return list(dict.fromkeys(row.energy_note for run in runs for row in run.rows
                              if row.status == "ok" and row.joules_per_batch is None and row.energy_note))


def measured_cells(row: Row) -> list[Cell]:
    stats, measured = row.statistics, row.measured
    return [
        Cell("median", f"{stats.median:.4f}", exact(stats.median), "strong"),
        Cell("ci", f"{stats.ci_low:.4f} – {stats.ci_high:.4f} (±{stats.precision:.1%})",
             f"{stats.ci_low!r} {stats.ci_high!r}",
             title=f"bootstrap 95% CI of the median of {stats.n} steps; CV {stats.cv:.1%}"
                   + (f"; stopped by {measured.stopped_by}" if measured.stopped_by else "")),
        Cell("samples_per_second", samples_per_second_text(row.samples_per_second, row), exact(row.samples_per_second)),
        speedup_cell(row),
        Cell("compile", wording.NOTHING if row.compile_seconds is None else f"{row.compile_seconds:.1f}",
             exact(row.compile_seconds), "" if row.compile_seconds is not None else "muted"),
        Cell("memory", wording.human_bytes(measured.peak_memory_bytes), exact(measured.peak_memory_bytes),
             title=measured.memory_kind),
        flops_per_second_cell(row),
    ]


def plan_switches(row: Row) -> list[str]:
    words = row.plan.describe().split()
    words = words[1:] if words and words[0] == row.framework else words
    return words + ([wording.plan_source_tag(row.plan_source)] if row.plan_source else [])


def table_rows(runs: list[ResultsFile], energy: bool = False) -> list[TableRow]:
    """With `energy`, an energy column: only when some row has a reading (else the footer says why not)."""
    rows, previous = [], None
    for label, run in zip(run_labels(runs), runs):
        for row in run.rows:
            group = (label, row.workload)
            cells = measured_cells(row) + ([energy_cell(row)] if energy else []) if is_measured(row) else []
            rows.append(TableRow(label, row, plan_switches(row), group != previous, cells))
            previous = group
    return rows


def format_time(stamp: str | None) -> str:
    if not stamp:
        return wording.NOTHING
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp  # shown as recorded rather than hidden
    return f"{moment:%Y-%m-%d %H:%M} {moment:%Z}".strip()


def format_duration(started: str, finished: str | None) -> str | None:
    try:
        seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    except (TypeError, ValueError):
        return None
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def machine_facts(fingerprint: Fingerprint) -> list[tuple[str, str]]:
    """The fingerprint in words; a field an older batchmark did not record is left out, not invented."""
    cpu, system = fingerprint.cpu, fingerprint.os
    known_cpu = cpu.model is not None or cpu.arch is not None
    gpus = [f"{gpu.name or '?'}" + (f" ({gpu.memory})" if gpu.memory else "")
            + (f", driver {gpu.driver}" if gpu.driver else "") for gpu in fingerprint.gpus]
    frameworks = [f"{name} {version}" for name, version in fingerprint.frameworks.items() if version]
    facts = [
        ("CPU", f"{cpu.model or '?'} ({cpu.arch or '?'})" if known_cpu else None),
        ("Cores", f"{cpu.physical_cores or '?'} physical · {cpu.logical_cores or '?'} logical · "
                  f"{cpu.usable_cores or '?'} usable" if known_cpu else None),
        ("CPU flags", ", ".join(cpu.flags) or None),
        ("ISA capped", describe_limits(fingerprint.isa_limits) or None),
        ("Memory", wording.human_bytes(fingerprint.memory_bytes) if fingerprint.memory_bytes else None),
        ("GPUs", "; ".join(gpus) or "none"),
        ("OS", f"{system.system or ''} {system.release or ''}".strip() or None),
        ("Python", fingerprint.python),
        ("Frameworks", ", ".join(frameworks) or None),
        ("batchmark", fingerprint.batchmark),
    ]
    return [(name, str(value)) for name, value in facts if value]


def machine_cards(runs: list[ResultsFile]) -> list[dict]:
    """One card per distinct fingerprint, naming the runs measured on it."""
    cards: dict[str, dict] = {}
    for run in runs:
        key = run.machine.model_dump_json()
        card = cards.setdefault(key, {"hostname": run.machine.hostname or "unknown host",
                                      "facts": machine_facts(run.machine), "runs": []})
        card["runs"].append(run.run_id)
    return list(cards.values())


def run_summaries(runs: list[ResultsFile]) -> list[dict]:
    return [{"label": label, "run_id": run.run_id, "started": format_time(run.started_at),
             "duration": format_duration(run.started_at, run.finished_at), "profile": run.profile,
             "command": " ".join(run.command), "interrupted": run.interrupted,
             "rows": len(run.rows), "failed": sum(row.status == "failed" for row in run.rows),
             "not_run": run.not_run,
             "budget": f"{run.budget_seconds / 60:g} minutes" if run.budget_seconds else "no limit"}
            for label, run in zip(run_labels(runs), runs)]


def summary_tiles(rows: list[TableRow]) -> list[dict]:
    """The few numbers a reader looks for first: how much ran, how much to doubt, the best and worst plan."""
    measured = [entry for entry in rows if entry.cells]
    warned = [entry for entry in rows if entry.row.warnings]
    compared = sorted((entry for entry in measured
                       if entry.row.plan_label != "baseline" and entry.row.speedup_vs_baseline is not None),
                      key=lambda entry: entry.row.speedup_vs_baseline)
    failed = len(rows) - len(measured)
    tiles = [
        {"label": "Rows measured", "value": f"{len(measured)} of {len(rows)}",
         "detail": f"{failed} failed" if failed else "none failed", "tone": "bad" if failed else ""},
        {"label": "Rows with warnings", "value": str(len(warned)),
         "detail": "see the notes under those rows" if warned else "all steady", "tone": "warn" if warned else ""},
    ]
    for label, entry in (("Best speedup", compared[-1] if compared else None),
                         ("Worst speedup", compared[0] if len(compared) > 1 else None)):
        if entry is not None:
            cell = speedup_cell(entry.row)
            tiles.append({"label": label, "value": cell.text, "tone": cell.css,
                          "detail": f"{entry.row.workload} · {entry.row.framework} · {entry.row.plan_label}"})
    return tiles


def highlights(runs: list[ResultsFile]) -> list[tuple[str, list[Sentence]]]:
    return [(label, wording.fastest(run)) for label, run in zip(run_labels(runs), runs)]


def plotly_js() -> Markup:
    bundle = resources.files("batchmark.report").joinpath("assets/plotly-cartesian.min.js").read_text("utf-8")
    assert "</script" not in bundle.lower(), "the vendored bundle would end its own <script> element"
    return Markup(bundle)


def figure_json(figure: go.Figure) -> Markup:
    # plotly.io.to_json writes <, > and / as \\u escapes, so the JSON cannot close the <script> it sits in.
    return Markup(plotly.io.to_json(figure, pretty=False, validate=False))


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("batchmark.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(said=said, css_class=css_class)
    env.globals.update(failed=wording.failed)
    return env


def render_report(runs: list[ResultsFile], title: str | None = None) -> str:
    """The whole report as one HTML string; `runs` are shown side by side, in the order given."""
    if not runs:
        raise ValueError("a report needs at least one run; pass the results of one or more `batchmark run`s")
    conventions = list(dict.fromkeys(row.flop_convention for run in runs for row in run.rows)) or [FLOP_CONVENTION]
    energy = any(wording.has_energy(run.rows) for run in runs)
    rows = table_rows(runs, energy)
    return environment().get_template("report.html.j2").render(
        energy=energy,
        energy_reasons=energy_reasons(runs),
        columns=12 if energy else 11,
        title=title or DEFAULT_TITLE,
        several_runs=len(runs) > 1,
        runs=run_summaries(runs),
        tiles=summary_tiles(rows),
        machines=machine_cards(runs),
        highlights=highlights(runs),
        figures={chart_id: figure_json(figure) for chart_id, figure in build_figures(runs).items()},
        plot_config=Markup(json.dumps(PLOT_CONFIG)),
        rows=rows,
        batch_text=batch_text,
        flop_conventions=conventions,
        plan_name=wording.plan_name,
        calibrations=list(dict.fromkeys(run.calibration.describe() for run in runs if run.calibration)),
        plotly_js=plotly_js(),
        generated=format_time(datetime.now().astimezone().isoformat()),
    )


def write_report(runs: list[ResultsFile], path: Path, title: str | None = None) -> Path:
    """Atomically, like the results files: a browser reloading mid-write never sees half a report."""
    # 0644: mkstemp's 0600 would keep a report meant for sharing private.
    path = write_atomically(Path(path), render_report(runs, title), mode=0o644)
    return path
