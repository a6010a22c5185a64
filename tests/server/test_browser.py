"""The leaderboard and a compare page in headless Chromium, served by a live `batchmark serve`: the charts
drew, the page logged no error, and the numbers shown are those in the database, read with plain SQL.

Playwright drives the system's Chromium, as tests/report/test_browser.py does. BATCHMARK_SCREENSHOTS=DIR
keeps the screenshots there (docs/ holds the committed ones).
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
import sqlalchemy

from batchmark.store import open_history
from batchmark.store.database import resolve_url
from batchmark.store.tokens import create_token
from tests.report.test_browser import browser  # noqa: F401  (the Chromium fixture, with its skip rules)
from tests.server.helpers import leaderboard_runs
from tests.server.live import live_server

BEST_PER_MACHINE = """
    SELECT m.hostname, min(r.median) FROM results r JOIN runs ru ON r.run_pk = ru.id
    JOIN machines m ON ru.machine_id = m.id JOIN submissions s ON s.run_pk = ru.id
    WHERE r.workload = :workload AND r.status = 'ok' AND s.verified AND r.batch_size = 32 AND r.image_size = 224
    GROUP BY m.hostname"""


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    database = str(tmp_path_factory.mktemp("leaderboard") / "leaderboard.sqlite")
    history = open_history(database)
    _, token = create_token(history, "browser")
    history.close()
    with live_server(database) as url:
        for run in leaderboard_runs():
            answer = httpx.post(f"{url}/api/v1/runs", content=run.model_dump_json(),
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert answer.status_code == 201, answer.text
        yield url, database


def best_medians(database: str, workload: str) -> dict[str, float]:
    engine = sqlalchemy.create_engine(resolve_url(database))
    with engine.connect() as connection:
        found = dict(connection.execute(sqlalchemy.text(BEST_PER_MACHINE), {"workload": workload}).all())
    engine.dispose()
    return found


def open_page(browser, url: str, selector: str = ".main-svg"):  # noqa: F811
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    answer = page.goto(url)
    # under the server's Content-Security-Policy: a violation is a console error, which each test refuses
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    page.wait_for_selector(selector, state="attached", timeout=30_000)
    return page, errors


def screenshot(page, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("BATCHMARK_SCREENSHOTS") or tmp_path)
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 30_000
    return path


def test_leaderboard_page(browser, served, tmp_path):  # noqa: F811
    url, database = served
    page, errors = open_page(browser, f"{url}/leaderboard/mobilenetv3")
    expected = best_medians(database, "mobilenetv3")
    assert len(expected) == 4
    shown = page.evaluate("""Array.from(document.querySelectorAll('#leaderboard tr.entry')).map(row => [
        row.querySelector('.host').textContent.trim(), Number(row.querySelector('[data-field=median]').dataset.value)])""")
    assert dict(shown) == expected
    assert [median for _, median in shown] == sorted(expected.values())  # fastest first
    bars = page.evaluate("document.getElementById('chart-leaderboard').data.filter(t => t.type === 'bar')"
                         ".map(t => [t.y[1][0], t.x[0]])")
    assert {series.split(" · ")[0]: median for series, median in bars} == expected
    assert page.locator("#chart-leaderboard .bars .point").count() == 4
    assert errors == []
    screenshot(page, "leaderboard.png", tmp_path)
    page.close()


def test_compare_page(browser, served, tmp_path):  # noqa: F811
    url, database = served
    machines = {machine["hostname"]: machine["machine"] for machine in httpx.get(f"{url}/api/v1/machines").json()}
    a, b = machines["linux-workstation"], machines["macbook-pro-m1"]
    page, errors = open_page(browser, f"{url}/compare?a={a}&b={b}")
    for workload in ("resnet50v2_finetune", "mobilenetv3"):
        expected = best_medians(database, workload)
        row = page.locator(f'#compare tr[data-workload="{workload}"]')
        assert float(row.locator("[data-field=a_median]").get_attribute("data-value")) == expected["linux-workstation"]
        assert float(row.locator("[data-field=b_median]").get_attribute("data-value")) == expected["macbook-pro-m1"]
        cell = row.locator("[data-field=ratio]")
        ratio = float(cell.get_attribute("data-value"))
        assert ratio == pytest.approx(expected["macbook-pro-m1"] / expected["linux-workstation"])
        # B is the slower machine: said from its side, in the tone's class (red, as the report's slower rows)
        assert cell.inner_text() == f"{ratio:.2f}x slower" and "slower" in cell.get_attribute("class").split()
    drawn = page.evaluate("document.getElementById('chart-compare').data.filter(t => t.type === 'bar').length")
    assert drawn == 4 and page.locator("#chart-compare .bars .point").count() == 4
    assert errors == []
    screenshot(page, "compare.png", tmp_path)
    page.close()


def test_run_and_machine_pages_render(browser, served, tmp_path):  # noqa: F811
    url, _ = served
    runs = httpx.get(f"{url}/api/v1/runs").json()
    page, errors = open_page(browser, f"{url}/runs/{runs[-1]['run_id']}")
    assert page.locator("#chart-seconds .bars .point").count() == 5 and errors == []
    screenshot(page, "run.png", tmp_path)
    page.close()


def test_api_docs_render_from_the_package_under_the_policy(browser, served):  # noqa: F811
    url, _ = served
    page, errors = open_page(browser, f"{url}/docs", selector=".swagger-ui .opblock")
    assert page.locator(".swagger-ui .opblock").count() > 5 and errors == []
    page.close()
