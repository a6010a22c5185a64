"""The report's Plotly figures, each a pure function of the runs it shows.

Seconds per batch answers "how fast", the speedup chart answers "did the accelerated plan help", and the
step-time distribution answers "can I trust those two": a wide or bimodal spread means a noisy machine. Runs with
data-parallel rows get a fourth: throughput against ranks, beside the ideal line, answers "how well does it scale".
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import plotly.graph_objects as go

from batchmark import wording
from batchmark.results import ResultsFile, Row
from batchmark.workloads.registry import batch_shape, throughput_text

FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'
INK, MUTED, GRID = "#1f2937", "#6b7280", "#e5e7eb"
FASTER, SLOWER = "#15803d", "#dc2626"
# Light/dark pairs: rows come baseline-then-accelerated per framework, so each framework gets one hue with
# its baseline the lighter shade. No green or red here: those mean faster and slower in the speedup chart.
SERIES_COLORS = (
    "#93c5fd", "#1d4ed8", "#fdba74", "#c2410c", "#c4b5fd", "#6d28d9",
    "#67e8f9", "#0e7490", "#f9a8d4", "#be185d", "#cbd5e1", "#334155",
)
# Speedup ticks a reader can say out loud (1.5x faster), mirrored as 1/tick (1.5x slower) around "same".
FASTER_TICKS = (1.1, 1.25, 1.5, 2, 3, 5, 10, 20, 50, 100)


def is_measured(row: Row) -> bool:
    """A row with numbers to draw; anything else is shown as failed, never as a zero."""
    return row.status == "ok" and row.statistics is not None and row.measured is not None


# One strong colour per run, for charts that compare machines rather than plans (the leaderboard's).
RUN_COLORS = SERIES_COLORS[1::2]


@dataclass(frozen=True)
class LabelledRow:
    """One row with the names the charts show for it; `series` is unique per run, framework and plan."""

    row: Row
    series: str
    run_index: int = 0  # which of the charted runs it belongs to

    @property
    def measured_ok(self) -> bool:
        return is_measured(self.row)


def run_labels(runs: list[ResultsFile]) -> list[str]:
    """A short name per run, to tell several runs apart: the hostname, with the run id where hosts repeat."""
    if len(runs) == 1:
        return [""]
    hostnames = [run.machine.hostname or "?" for run in runs]
    if len(set(hostnames)) == len(hostnames):
        return hostnames
    return [f"{hostname} · {run.run_id}" for hostname, run in zip(hostnames, runs)]


def labelled_rows(runs: list[ResultsFile]) -> list[LabelledRow]:
    labelled = []
    for index, (label, run) in enumerate(zip(run_labels(runs), runs)):
        prefix = f"{label} · " if label else ""
        labelled += [LabelledRow(row, f"{prefix}{row.framework} · {row.plan_label}{ranks_text(row)}", index)
                     for row in run.rows]
    return labelled


def ranks_text(row: Row) -> str:
    """A data-parallel row's series is its own: the same plan in one process is another row of the run."""
    return f" · ×{row.world_size} ranks" if row.world_size > 1 else ""


def chart_text(text: str) -> str:
    """Plotly reads a small subset of HTML in labels; a user's string must show as typed, never as markup."""
    return html.escape(text, quote=False)


def series_colors(rows: list[LabelledRow]) -> dict[str, str]:
    names = dict.fromkeys(labelled.series for labelled in rows)
    return {name: SERIES_COLORS[index % len(SERIES_COLORS)] for index, name in enumerate(names)}


def batch_text(row: Row) -> str:
    return batch_shape(row.workload, row.batch_size, row.image_size)


def samples_per_second_text(value: float, row: Row | None = None) -> str:
    # One decimal, as the terminal prints, hides a slow workload's rate (0.149 would read 0.1). A language
    # model's row also says tokens/s.
    if row is not None:
        return throughput_text(row.workload, row.image_size, value)
    return f"{value:.1f}" if value >= 1 else f"{value:.3f}"


def base_layout(title: str, subtitle: str, height: int) -> dict:
    return dict(
        template="plotly_white", height=height, font=dict(family=FONT, size=13, color=INK),
        title=dict(text=f"<b>{title}</b>", font=dict(size=16), x=0, xref="container", xanchor="left",
                   y=1, yref="container", yanchor="top", pad=dict(t=10, l=8),
                   subtitle=dict(text=subtitle, font=dict(size=12.5, color=MUTED))),
        margin=dict(l=8, r=24, t=84, b=48), hoverlabel=dict(font=dict(family=FONT)),
        showlegend=False,  # the row axis names every series, so a legend would only repeat it
        paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
    )


def reference_line_at_one() -> dict:
    return dict(type="line", xref="x", yref="paper", x0=1, x1=1, y0=0, y1=1,
                line=dict(color=MUTED, width=1.5, dash="dot"), layer="below")


def row_axis(rows: list[LabelledRow]) -> list[list[str]]:
    """A two-level category axis, workload then series: every chart lists its rows in the same order."""
    return [[chart_text(labelled.row.workload) for labelled in rows],
            [chart_text(labelled.series) for labelled in rows]]


def style_row_axis(figure: go.Figure) -> None:
    figure.update_yaxes(autorange="reversed", automargin=True, ticks="", showdividers=True, dividercolor=GRID,
                        tickfont=dict(size=12.5))


def say_nothing_to_show(figure: go.Figure, message: str) -> None:
    """An empty chart says why it is empty, rather than drawing bare axes that look like a bug."""
    figure.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False,
                          font=dict(color=MUTED, size=14))
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    figure.layout.shapes = ()
    figure.update_layout(height=200)


def failed_markers(rows: list[LabelledRow]) -> go.Scatter:
    """Failed rows keep their slot in the chart, marked failed, so a missing bar never reads as "fast"."""
    failures = [labelled.row.failure for labelled in rows]
    return go.Scatter(
        name="failed", mode="text", y=row_axis(rows), x=[0] * len(rows),
        text=[f"✕ {wording.failed(labelled.row).text}" for labelled in rows],
        textposition="middle right", textfont=dict(color=SLOWER, size=11.5),
        customdata=[chart_text(failure.message if failure else "no statistics") for failure in failures],
        hovertemplate="<b>%{y}</b><br>failed: %{customdata}<extra></extra>", cliponaxis=False,
    )


def seconds_figure(runs: list[ResultsFile], color_by_run: bool = False) -> go.Figure:
    """Median seconds per batch, one horizontal bar per row, with the 95% CI of the median as whiskers.

    `color_by_run`: one colour per run instead of per plan, when the runs are the machines being compared."""
    rows = labelled_rows(runs)
    colors = ({labelled.series: RUN_COLORS[labelled.run_index % len(RUN_COLORS)] for labelled in rows}
              if color_by_run else series_colors(rows))
    figure = go.Figure()
    for series, color in colors.items():
        measured = [labelled for labelled in rows if labelled.series == series and labelled.measured_ok]
        if not measured:
            continue  # every row of this series failed: the failed markers below show it
        statistics = [labelled.row.statistics for labelled in measured]
        figure.add_bar(
            name=chart_text(series), orientation="h", marker=dict(color=color), y=row_axis(measured),
            x=[stats.median for stats in statistics],
            error_x=dict(type="data", symmetric=False, color=INK, thickness=1.2, width=4,
                         array=[stats.ci_high - stats.median for stats in statistics],
                         arrayminus=[stats.median - stats.ci_low for stats in statistics]),
            customdata=[[labelled.row.statistics.ci_low, labelled.row.statistics.ci_high,
                         samples_per_second_text(labelled.row.samples_per_second, labelled.row), batch_text(labelled.row),
                         chart_text(", ".join(warning.code for warning in labelled.row.warnings) or "none")]
                        for labelled in measured],
            hovertemplate=("<b>%{y}</b><br>median <b>%{x:.4f} s</b>/batch<br>"
                           "95% CI %{customdata[0]:.4f} – %{customdata[1]:.4f} s<br>"
                           "%{customdata[2]} samples/s · batch %{customdata[3]}<br>"
                           "warnings: %{customdata[4]}<extra></extra>"),
            text=[f"{stats.median:.4f}" for stats in statistics],
            textposition="inside", insidetextanchor="start", textfont=dict(size=11),
        )
    failed = [labelled for labelled in rows if not labelled.measured_ok]
    if failed:
        figure.add_trace(failed_markers(failed))
    layout = base_layout("Seconds per training batch", "median of the timed steps · whiskers: 95% CI of the "
                         "median · lower is better", height=150 + len(rows) * 30)
    figure.update_layout(**layout, barmode="overlay", bargap=0.25)
    figure.update_xaxes(title="seconds per batch", rangemode="tozero", gridcolor=GRID, zeroline=False)
    style_row_axis(figure)
    return figure


def tick_text(speedup: float) -> str:
    if speedup == 1:
        return "same"
    factor = speedup if speedup > 1 else 1 / speedup
    return f"{round(factor, 2):g}x {'faster' if speedup > 1 else 'slower'}"


def speedup_axis(speedups: list[float]) -> dict:
    """A log axis symmetric around 1, so 2x faster and 2x slower are the same distance from "same"."""
    reach = max([abs(math.log10(speedup)) for speedup in speedups] + [math.log10(1.25)]) * 1.45
    ticks = [1.0]
    for tick in FASTER_TICKS:  # at most about three a side, so their labels never collide
        if math.log10(tick) <= reach and math.log10(tick / ticks[-1]) >= reach / 3.5:
            ticks.append(tick)
    ticks = sorted(ticks + [1 / tick for tick in ticks[1:]])
    labels = [tick_text(tick) for tick in ticks]
    return dict(type="log", range=[-reach, reach], tickvals=ticks, ticktext=labels, gridcolor=GRID,
                title="speedup over baseline (log scale)")


def speedup_figure(runs: list[ResultsFile]) -> go.Figure:
    """Baseline median ÷ plan median per workload and framework: a stem from 1 to a dot, green is faster."""
    compared = [labelled for labelled in labelled_rows(runs)
                if labelled.measured_ok and labelled.row.plan_label != "baseline"
                and labelled.row.speedup_vs_baseline is not None]
    speedups = [labelled.row.speedup_vs_baseline for labelled in compared]
    words = [wording.speedup(speedup, is_baseline=False).text for speedup in speedups]
    colors = [FASTER if speedup >= 1 else SLOWER for speedup in speedups]
    figure = go.Figure()
    figure.add_scatter(
        name="speedup", mode="markers+text", y=row_axis(compared), x=speedups, text=words, customdata=words,
        textposition=["middle right" if speedup >= 1 else "middle left" for speedup in speedups],
        textfont=dict(color=colors, size=12), marker=dict(color=colors, size=13, line=dict(color="white", width=2)),
        # The stem from "same" to the dot, drawn as a one-sided error bar so the dot keeps the exact speedup.
        error_x=dict(type="data", symmetric=False, color="#9ca3af", thickness=3, width=0,
                     array=[max(0.0, 1 - speedup) for speedup in speedups],
                     arrayminus=[max(0.0, speedup - 1) for speedup in speedups]),
        hovertemplate="<b>%{y}</b><br>%{customdata} than baseline (×%{x:.3f})<extra></extra>",
    )
    layout = base_layout("Speedup of each plan over baseline", "baseline median ÷ plan median, same "
                         "framework and run · right of the line is faster", height=170 + len(compared) * 34)
    figure.update_layout(**layout, shapes=[reference_line_at_one()])
    figure.update_xaxes(**speedup_axis(speedups), zeroline=False)
    style_row_axis(figure)
    if not compared:
        say_nothing_to_show(figure, "No speedup to show: that needs a plan besides baseline, both measured.")
    return figure


def distribution_figure(runs: list[ResultsFile]) -> go.Figure:
    """Every timed step ÷ its row's median: one shared axis for all workloads, and noise shows as spread."""
    rows = labelled_rows(runs)
    colors = series_colors(rows)
    measured = [labelled for labelled in rows if labelled.measured_ok]
    figure = go.Figure()
    for labelled in measured:
        row, steps = labelled.row, labelled.row.measured.step_seconds
        figure.add_box(
            name=chart_text(labelled.series), orientation="h",
            x=[step / row.statistics.median for step in steps],
            y=[axis * len(steps) for axis in row_axis([labelled])],
            customdata=steps, boxpoints="all", jitter=0.5, pointpos=0, line=dict(width=1.5),
            marker=dict(color=colors[labelled.series], size=7, opacity=0.85, line=dict(color="white", width=1)),
            fillcolor="rgba(0,0,0,0.03)", hoveron="points",
            hovertemplate=("<b>%{y}</b><br>step %{customdata:.4f} s<br>%{x:.3f} × the median"
                           "<extra></extra>"),
        )
    layout = base_layout("Step-time distribution", "each timed step ÷ that row's median · a wide spread or "
                         "stragglers mean a noisy machine", height=170 + len(measured) * 30)
    figure.update_layout(**layout, boxmode="overlay", shapes=[reference_line_at_one()])
    figure.update_xaxes(title="step time ÷ median", ticksuffix="×", gridcolor=GRID, zeroline=False)
    style_row_axis(figure)
    if not measured:
        say_nothing_to_show(figure, "No timed steps to show: no row was measured.")
    return figure


def scaling_figure(runs: list[ResultsFile]) -> go.Figure:
    """Throughput in all against ranks: each data-parallel row from its one-process reference (1 rank) to its
    world size, beside the ideal line (N × the one-process throughput); the gap is what scaling costs."""
    scaled = [labelled for labelled in labelled_rows(runs)
              if labelled.measured_ok and labelled.row.scaling_efficiency is not None]
    colors = series_colors(scaled)
    figure = go.Figure()
    for labelled in scaled:
        row = labelled.row
        alone = row.aggregate_samples_per_second / (row.world_size * row.scaling_efficiency)
        name = chart_text(f"{row.workload} · {labelled.series}")
        figure.add_scatter(name=f"{name} · ideal", mode="lines", x=[1, row.world_size],
                           y=[alone, alone * row.world_size], hoverinfo="skip",
                           line=dict(color=colors[labelled.series], width=1.5, dash="dot"))
        figure.add_scatter(
            name=name, mode="lines+markers+text", x=[1, row.world_size], y=[alone, row.aggregate_samples_per_second],
            text=["", f"{row.scaling_efficiency:.0%}"], textposition="middle right",
            marker=dict(color=colors[labelled.series], size=10), line=dict(color=colors[labelled.series], width=2.5),
            customdata=[name, name],
            hovertemplate="<b>%{customdata}</b><br>%{x} rank(s): %{y:.3g} samples/s in all<extra></extra>")
    layout = base_layout("Throughput against ranks", "samples/s of all ranks together · dotted: ideal scaling (N × "
                         "one process) · the label is the scaling efficiency", height=420)
    figure.update_layout(**{**layout, "showlegend": True})  # two lines a row: the legend tells them apart
    figure.update_xaxes(title="ranks", tickmode="array", gridcolor=GRID, zeroline=False,
                        tickvals=sorted({1, *(labelled.row.world_size for labelled in scaled)}))
    figure.update_yaxes(title="samples/s (all ranks)", gridcolor=GRID, rangemode="tozero")
    if not scaled:
        say_nothing_to_show(figure, "No scaling to show: a data-parallel row needs its one-process row, both measured.")
    return figure


FIGURES = {
    "chart-seconds": seconds_figure,
    "chart-speedup": speedup_figure,
    "chart-distribution": distribution_figure,
}


def build_figures(runs: list[ResultsFile]) -> dict[str, go.Figure]:
    """Each figure under the id of the element it renders into, in page order; the scaling chart only for runs with
    data-parallel rows."""
    figures = {chart_id: build(runs) for chart_id, build in FIGURES.items()}
    if any(row.world_size > 1 for run in runs for row in run.rows):
        figures["chart-scaling"] = scaling_figure(runs)
    return figures
