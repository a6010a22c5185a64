"""The report's figures and HTML, checked as data: no browser here (tests/report/test_browser.py has one)."""

import ast
import html
import re
from pathlib import Path

import pytest

import batchmark.report
from batchmark.report import render_report, write_report
from batchmark.report.charts import distribution_figure, seconds_figure, speedup_figure
from tests.sample_runs import HOSTILE, gpu_row, gpu_run, hostile_run


def measured_rows(run):
    return [row for row in run.rows if row.status == "ok"]


def bars(figure):
    return [trace for trace in figure.data if trace.type == "bar"]


def bar_points(figure):
    """(workload, series, median, ci_low, ci_high) for every bar, in drawing order."""
    points = []
    for trace in bars(figure):
        workloads, series = trace.y
        for workload, name, median, plus, minus in zip(workloads, series, trace.x, trace.error_x.array,
                                                       trace.error_x.arrayminus):
            points.append((workload, name, median, median - minus, median + plus))
    return points


def test_seconds_bars_are_the_rows_medians_with_their_ci():
    run = gpu_run()
    points = {(workload, name): values for workload, name, *values in bar_points(seconds_figure([run]))}
    expected = measured_rows(run)
    assert len(points) == len(expected)
    for row in expected:
        median, low, high = points[(row.workload, f"{row.framework} · {row.plan_label}")]
        assert median == row.statistics.median
        assert low == pytest.approx(row.statistics.ci_low, rel=1e-12)
        assert high == pytest.approx(row.statistics.ci_high, rel=1e-12)


def test_a_failed_row_gets_no_bar_but_a_failed_mark():
    figure = seconds_figure([gpu_run()])
    assert ("densenet121", "tensorflow · accelerated") not in {(w, s) for w, s, *_ in bar_points(figure)}
    [failed] = [trace for trace in figure.data if trace.name == "failed"]
    assert list(zip(*failed.y)) == [("densenet121", "tensorflow · accelerated")]
    assert failed.text == ("✕ FAILED (oom)",)


def test_speedups_are_the_non_baseline_rows_with_terminal_wording():
    run = gpu_run()
    [trace] = speedup_figure([run]).data
    compared = [row for row in measured_rows(run) if row.plan_label != "baseline"]
    assert list(trace.x) == [row.speedup_vs_baseline for row in compared]
    assert list(trace.text) == ["1.60x faster", "1.16x slower", "1.63x faster"]
    assert trace.marker.color == ("#15803d", "#dc2626", "#15803d")
    assert speedup_figure([run]).layout.xaxis.type == "log"


def test_speedup_chart_says_so_when_nothing_was_compared():
    run = gpu_run(rows=[gpu_row("mobilenetv3", "torch", "baseline", 0.08)])
    figure = speedup_figure([run])
    assert list(figure.data[0].x) == []
    assert "needs a plan besides baseline" in figure.layout.annotations[0].text


def test_distribution_is_each_step_over_its_rows_median():
    run = gpu_run()
    traces = distribution_figure([run]).data
    rows = measured_rows(run)
    assert len(traces) == len(rows)
    for trace, row in zip(traces, rows):
        assert list(trace.customdata) == row.measured.step_seconds
        assert list(trace.x) == [step / row.statistics.median for step in row.measured.step_seconds]
        assert set(trace.y[0]) == {row.workload}


def test_several_runs_give_one_series_per_run():
    runs = [gpu_run("bench-1"), gpu_run("bench-2", run_id="20261129T000000Z-bbbbbb", scale=1.5)]
    series = {name for _, name, *_ in bar_points(seconds_figure(runs))}
    assert series == {f"{host} · {framework} · {plan}" for host in ("bench-1", "bench-2")
                      for framework in ("torch", "tensorflow") for plan in ("baseline", "accelerated")}
    same_host = [gpu_run("bench-1"), gpu_run("bench-1", run_id="20261129T000000Z-bbbbbb")]
    names = {name for _, name, *_ in bar_points(seconds_figure(same_host))}
    assert "bench-1 · 20261129T000000Z-bbbbbb · torch · baseline" in names


def test_html_shows_failed_rows_and_puts_warnings_under_their_row():
    page = render_report([gpu_run()])
    failed = page[page.index('data-plan="accelerated"', page.index('data-workload="densenet121" '
                                                                   'data-framework="tensorflow"')):]
    assert "FAILED (oom)" in failed[:1500]
    assert "CUDA out of memory: tried to allocate 2.00 GiB" in failed[:1500]
    warned_row = page.index('data-workload="mobilenetv3" data-framework="tensorflow" data-plan="baseline"')
    next_row = page.index('<tr class="result', warned_row)
    assert 'data-code="high_dispersion"' in page[warned_row:next_row]


@pytest.mark.parametrize("where, shown", [
    ("hostname", f"<h3>{html.escape(HOSTILE)}</h3>"),
    ("plan label", f'<span class="plan-label">{html.escape(HOSTILE)}</span>'),
    ("warning message", f"<span>1 outlier step {html.escape(HOSTILE)}</span>"),
    ("failure message", f'<span class="message">worker said {html.escape(HOSTILE)}</span>'),
    ("fastest sentence", f'<strong><span class="faster">torch · {html.escape(HOSTILE)}</span></strong>'),
])
def test_user_strings_come_out_escaped(where, shown):
    page = render_report([hostile_run()], title=HOSTILE)
    assert HOSTILE not in page, f"the {where} reached the page as markup"
    assert shown in page


def test_the_fastest_sentences_keep_the_terminals_emphasis_as_html():
    page = render_report([gpu_run()])
    assert ('<li><strong>mobilenetv3: </strong>fastest here is <strong><span class="faster">torch · accelerated'
            '</span></strong> at 0.0500 s/batch, 1.60x faster than torch · baseline (0.0800)</li>') in page


def test_the_report_styles_wording_without_rich_or_the_cli():
    """Tones become CSS classes (report/tones.py); Rich styles are the terminal's alone."""
    imported = set()
    for source in Path(batchmark.report.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
    assert not {name for name in imported if name.split(".")[0] == "rich" or name.startswith("batchmark.cli")}


def test_the_only_scripts_are_our_own_inline_ones():
    page = render_report([hostile_run()])
    opening_tags = re.findall(r"<script\b[^>]*>", page)
    assert opening_tags == ['<script type="application/json" id="chart-seconds-figure">',
                            '<script type="application/json" id="chart-speedup-figure">',
                            '<script type="application/json" id="chart-distribution-figure">',
                            "<script>", "<script>"]


def test_no_script_or_style_is_fetched_from_anywhere():
    page = render_report([gpu_run()])
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=", page)
    assert not re.search(r"@import|url\(\s*['\"]?https?:", page)


def test_write_report_is_atomic_and_returns_the_path(tmp_path):
    target = tmp_path / "reports" / "run.html"
    assert write_report([gpu_run()], target, title="Nightly") == target
    page = target.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<h1>Nightly</h1>" in page
    assert [path.name for path in target.parent.iterdir()] == ["run.html"]


def test_a_report_needs_a_run():
    with pytest.raises(ValueError, match="at least one run"):
        render_report([])


def test_a_run_with_data_parallel_rows_gets_a_scaling_chart_with_the_ideal_line():
    from batchmark.engine.data_parallel import apply_scaling
    from batchmark.report.charts import build_figures
    from tests.sample_runs import ok_row, run

    alone = ok_row("mobilenetv3", "torch", "baseline", [1.0, 1.0, 1.1, 0.9, 1.0], threads=1)
    group = ok_row("mobilenetv3", "torch", "baseline", [1.25, 1.25, 1.3, 1.2, 1.25], threads=1).model_copy(
        update={"world_size": 2})
    results = run([alone, group])
    assert "chart-scaling" not in build_figures([run([alone.model_copy()])])
    apply_scaling(results.rows)
    figure = build_figures([results])["chart-scaling"]
    ideal, measured = figure.data
    assert list(ideal.x) == list(measured.x) == [1, 2]
    assert ideal.y[1] == pytest.approx(2 * ideal.y[0]) and ideal.y[0] == pytest.approx(measured.y[0])
    assert measured.y[1] == pytest.approx(2 * 32 / 1.25)  # both ranks' samples per second
    assert measured.text[1] == "80%"  # 1.0 s alone against 1.25 s in a group of two
    assert "×2 ranks" in render_report([results])
