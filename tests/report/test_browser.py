"""The report opened as a user opens it: a run imported into a history, drawn by `batchmark report`, opened
as a file:// page in headless Chromium, offline, with no console errors, showing the database's numbers.

Playwright drives the system's Chromium (Debian's `chromium`) and never downloads a browser. Without one
these tests skip, unless BATCHMARK_REQUIRE_BROWSER=1 says a missing browser is itself a failure (CI).
"""

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy

from tests.helpers import batchmark
from tests.sample_runs import gpu_run

CHART_IDS = ("chart-seconds", "chart-speedup", "chart-distribution")


def chromium_path() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def unavailable(reason: str):
    if os.environ.get("BATCHMARK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason}, and BATCHMARK_REQUIRE_BROWSER=1 requires the browser tests to run")
    pytest.skip(f"{reason}: install Debian's chromium (apt-get install chromium) to run the browser tests")


@pytest.fixture(scope="module")
def browser():
    executable = chromium_path()
    if executable is None:
        unavailable("no Chromium at /usr/bin/chromium or on PATH")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def run():
    return gpu_run()


@pytest.fixture(scope="module")
def database(run, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    run.write(folder / "run.json")
    imported = batchmark("import", str(folder / "run.json"), "--db", str(folder / "history.sqlite"))
    assert imported.returncode == 0, imported.stderr
    return folder / "history.sqlite"


@pytest.fixture(scope="module")
def opened(browser, run, database, tmp_path_factory):
    """The report `batchmark report` wrote from the history, loaded with every chart drawn; errors the page
    logged are kept to check."""
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.html"
    made = batchmark("report", run.run_id, "--output", str(path), "--db", str(database))
    assert made.returncode == 0, made.stderr
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(path.as_uri())
    for chart_id in CHART_IDS:
        page.wait_for_selector(f"#{chart_id} .main-svg", state="attached", timeout=30_000)
    yield page, errors, folder
    page.close()


def trace_data(page, chart_id):
    return page.evaluate(f"document.getElementById('{chart_id}').data.map(trace => ({{type: trace.type, "
                         "name: trace.name, x: Array.from(trace.x), y: trace.y, "
                         "error_x: trace.error_x || null, text: trace.text || null}))")


def test_page_has_no_console_or_page_errors(opened):
    page, errors, _ = opened
    assert errors == []
    assert page.evaluate("typeof Plotly") == "object"


def test_every_chart_rendered_an_svg(opened):
    page, _, _ = opened
    for chart_id in CHART_IDS:
        assert page.locator(f"#{chart_id} .main-svg").count() >= 1
        traces = page.evaluate(f"document.getElementById('{chart_id}').data.length")
        assert page.locator(f"#{chart_id} .cartesianlayer .trace").count() == traces >= 1


def test_seconds_chart_shows_the_rows_medians(opened, run):
    page, _, _ = opened
    drawn = {}
    for trace in trace_data(page, "chart-seconds"):
        if trace["type"] == "bar":
            for workload, series, median in zip(*trace["y"], trace["x"]):
                drawn[(workload, series)] = median
    ok_rows = [row for row in run.rows if row.status == "ok"]
    assert drawn == {(row.workload, f"{row.framework} · {row.plan_label}"): row.statistics.median for row in ok_rows}
    assert page.locator("#chart-seconds .bars .point").count() == len(ok_rows)


def test_speedup_chart_shows_the_rows_speedups(opened, run):
    page, _, _ = opened
    [trace] = trace_data(page, "chart-speedup")
    compared = [row for row in run.rows if row.status == "ok" and row.plan_label != "baseline"]
    assert trace["x"] == [row.speedup_vs_baseline for row in compared]
    assert page.locator("#chart-speedup .scatterlayer .point").count() == len(compared)


def test_distribution_chart_shows_every_step(opened, run):
    page, _, _ = opened
    traces = trace_data(page, "chart-distribution")
    ok_rows = [row for row in run.rows if row.status == "ok"]
    assert [trace["x"] for trace in traces] == [
        [step / row.statistics.median for step in row.measured.step_seconds] for row in ok_rows]


def shown_cells(page) -> dict:
    cells = page.evaluate("""Array.from(document.querySelectorAll('#results td[data-field]')).map(cell => {
        const row = cell.closest('tr').dataset;
        return {key: [row.workload, row.framework, row.plan].join('/'), field: cell.dataset.field,
                value: cell.dataset.value ?? null, text: cell.textContent.trim()};
    })""")
    return {(cell["key"], cell["field"]): cell for cell in cells}


def test_table_numbers_equal_those_in_the_database(opened, database):
    """Read straight from the tables with SQL, not through batchmark's own loading code."""
    page, _, _ = opened
    shown = shown_cells(page)
    engine = sqlalchemy.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text(
            "SELECT workload, framework, plan_label, status, failure_kind, median, ci_low, ci_high, "
            "samples_per_second, peak_memory_bytes, compile_seconds FROM results ORDER BY position")).all()
    engine.dispose()
    assert len(stored) == 8
    for row in stored:
        key = f"{row.workload}/{row.framework}/{row.plan_label}"
        if row.status == "failed":
            assert shown[(key, "failure")]["text"].startswith(f"FAILED ({row.failure_kind})")
            continue
        assert float(shown[(key, "median")]["value"]) == row.median
        assert shown[(key, "median")]["text"] == f"{row.median:.4f}"
        assert [float(value) for value in shown[(key, "ci")]["value"].split()] == [row.ci_low, row.ci_high]
        assert float(shown[(key, "samples_per_second")]["value"]) == row.samples_per_second
        assert int(shown[(key, "memory")]["value"]) == row.peak_memory_bytes
        compile_value = shown[(key, "compile")]["value"]
        assert (None if compile_value is None else float(compile_value)) == row.compile_seconds


def test_table_numbers_equal_the_data(opened, run):
    page, _, _ = opened
    shown = shown_cells(page)
    for row in run.rows:
        key = f"{row.workload}/{row.framework}/{row.plan_label}"
        if row.status == "failed":
            assert shown[(key, "failure")]["text"].startswith(f"FAILED ({row.failure.kind})")
            assert row.failure.message in shown[(key, "failure")]["text"]
            continue
        median = shown[(key, "median")]
        assert float(median["value"]) == row.statistics.median
        assert median["text"] == f"{row.statistics.median:.4f}"
        assert [float(value) for value in shown[(key, "ci")]["value"].split()] == [row.statistics.ci_low,
                                                                                  row.statistics.ci_high]
        assert float(shown[(key, "samples_per_second")]["value"]) == row.samples_per_second
        assert float(shown[(key, "speedup")]["value"]) == row.speedup_vs_baseline
        assert int(shown[(key, "memory")]["value"]) == row.measured.peak_memory_bytes
        compile_value = shown[(key, "compile")]["value"]
        assert (None if compile_value is None else float(compile_value)) == row.compile_seconds


def test_warnings_sit_directly_under_their_row(opened):
    page, _, _ = opened
    previous = page.evaluate("""Array.from(document.querySelectorAll('#results tr.warning')).map(note => {
        let row = note.previousElementSibling;
        while (row.classList.contains('note')) row = row.previousElementSibling;
        return [row.dataset.workload, row.dataset.framework, row.dataset.plan, note.dataset.code];
    })""")
    assert previous == [["mobilenetv3", "tensorflow", "baseline", "high_dispersion"]]


def test_screenshot(opened):
    page, _, folder = opened
    shot = folder / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
