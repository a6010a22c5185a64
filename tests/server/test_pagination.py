"""Every list is a page: machines, a leaderboard, a machine's runs and a run's rows; the JSON API names the next
page in a Link header and the HTML pages link to it. A run of hundreds of rows is shown a page at a time."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from batchmark.server import queries
from batchmark.store import open_history
from batchmark.store.tokens import create_token
from tests import sample_runs
from tests.server.conftest import make_client
from tests.server.helpers import fast_run


def store(database: str, runs) -> None:
    """Runs as the server stores a submission (the route's checks are other tests' business)."""
    history = open_history(database)
    token, _ = create_token(history, "pages")
    for run in runs:
        digest = hashlib.sha256(run.model_dump_json().encode()).hexdigest()
        assert queries.submit(history, run, digest, token.id, []).stored
    history.close()


def follow(client, path: str) -> list[list]:
    """Each page's items, following rel="next" until there is none."""
    pages = []
    while path:
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        pages.append(answer.json())
        path = httpx.Response(200, headers=answer.headers).links.get("next", {}).get("url")
    return pages


@pytest.fixture
def three_machines(database_url):
    store(database_url, [fast_run("box-a", 0.5), fast_run("box-b", 0.7), sample_runs.standard_run()])
    return database_url


def test_machines_and_a_leaderboard_come_a_page_at_a_time(three_machines):
    with make_client(three_machines) as client:
        pages = follow(client, "/api/v1/machines?page_size=2")
        assert [len(page) for page in pages] == [2, 1]
        assert len({machine["machine"] for page in pages for machine in page}) == 3

        boards = follow(client, "/api/v1/leaderboard/mobilenetv3?page_size=2")
        entries = [entry for board in boards for entry in board["entries"]]
        assert [len(board["entries"]) for board in boards] == [2, 1]
        assert [entry["rank"] for entry in entries] == [1, 2, 3]  # ranks count on across pages
        assert [entry["hostname"] for entry in entries] == ["box-a", "box-b", "bench-01"]
        whole = client.get("/api/v1/leaderboard/mobilenetv3").json()["entries"]
        assert whole == entries

        html = client.get("/machines?page_size=2").text
        assert html.count('<tr data-machine=') == 2
        next_page = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
        assert next_page == "/machines?page_size=2&page=2"
        second = client.get(next_page).text
        assert second.count('<tr data-machine=') == 1 and 'rel="next"' not in second and 'rel="prev"' in second
        assert client.get("/leaderboard/mobilenetv3?page_size=2&page=2").text.count('class="entry') == 1
        assert client.get("/api/v1/machines?page_size=201").status_code == 422  # a page has a maximum size


def test_run_listings_link_to_the_next_ones(three_machines):
    with make_client(three_machines) as client:
        pages = follow(client, "/api/v1/runs?limit=2")
    assert [len(page) for page in pages] == [2, 1]
    assert [(run["rows"], run["failed"]) for page in pages for run in page] == [(6, 1)] * 3
    assert pages[0][0]["workloads"] == ["resnet50v2_finetune", "mobilenetv3"]
    assert pages[0][0]["frameworks"] == ["torch", "tensorflow"]


def test_a_run_of_many_rows_is_shown_a_page_at_a_time(database_url):
    standard = sample_runs.standard_run()
    failed = [sample_runs.failed_row("mobilenetv3", "torch", f"plan-{index}") for index in range(300)]
    # The baseline comes first and its accelerated row last, pages apart: the speedup still uses it.
    big = sample_runs.run(standard.rows[:1] + failed + standard.rows[1:2], calibration=sample_runs.calibration())
    store(database_url, [big])
    with make_client(database_url) as client:
        first = client.get(f"/runs/{big.run_id}?page_size=20").text
        assert first.count('<tr class="result') == 20 and "Rows 1–20 of 302" in first
        last = client.get(f"/runs/{big.run_id}?page_size=20&page=16").text
        assert last.count('<tr class="result') == 2 and "Rows 301–302 of 302" in last
        assert 'rel="next"' not in last
        speedup = re.search(r'data-plan="accelerated".*?data-field="speedup" data-value="([^"]+)"', last, re.S)
        assert float(speedup.group(1)) == pytest.approx(big.rows[-1].speedup_vs_baseline)
        # The JSON API still hands out the whole run, every row and raw sample.
        assert len(client.get(f"/api/v1/runs/{big.run_id}").json()["run"]["rows"]) == 302
