"""Pages and API answers are rendered once per version of the data and served from memory until a submission
changes it, in every server process that shares the database."""

from __future__ import annotations

import asyncio
import time

import httpx

from batchmark.server import views
from batchmark.server.main import create_app
from batchmark.server.settings import ServerSettings
from tests import sample_runs
from tests.server.conftest import bearer, make_client
from tests.server.helpers import body, fast_run


def test_a_page_is_rendered_once_until_a_submission_changes_the_data(client, token, monkeypatch):
    renders = []
    leaderboard = views.leaderboard

    def counted(*arguments, **options):
        renders.append(1)
        return leaderboard(*arguments, **options)

    monkeypatch.setattr(views, "leaderboard", counted)
    assert client.post("/api/v1/runs", content=body(sample_runs.standard_run()), headers=bearer(token)).status_code == 201
    first = client.get("/leaderboard/mobilenetv3")
    again = client.get("/leaderboard/mobilenetv3")
    assert first.status_code == again.status_code == 200 and again.text == first.text
    assert again.headers["content-type"] == first.headers["content-type"]
    assert len(renders) == 1
    assert client.get("/leaderboard/mobilenetv3", params={"framework": "torch"}).status_code == 200
    assert len(renders) == 2  # another query is another page

    assert client.post("/api/v1/runs", content=body(fast_run()), headers=bearer(token)).status_code == 201
    fresh = client.get("/leaderboard/mobilenetv3")
    assert len(renders) == 3 and "fast-box" in fresh.text and "fast-box" not in first.text
    assert client.get("/leaderboard/not_a_workload").status_code == 404
    assert client.get("/leaderboard/not_a_workload").status_code == 404
    assert len(renders) == 5  # a refusal is never kept


def test_every_server_process_sees_a_submission_at_once(server_database, token):
    """Two apps on one database, as two `serve --workers` processes are: each keeps its own pages, and a
    submission to one shows on the other's next view."""
    with make_client(server_database) as first, make_client(server_database) as second:
        assert first.post("/api/v1/runs", content=body(sample_runs.standard_run()),
                          headers=bearer(token)).status_code == 201
        before = second.get("/api/v1/machines").json()
        assert [machine["hostname"] for machine in before] == ["bench-01"]
        assert first.post("/api/v1/runs", content=body(fast_run()), headers=bearer(token)).status_code == 201
        after = second.get("/api/v1/machines").json()
        assert {machine["hostname"] for machine in after} == {"bench-01", "fast-box"}


def test_readers_arriving_together_wait_for_one_render(server_database, token, monkeypatch):
    """Every submission empties the cache: the readers who then ask for the same page at once get the bytes of
    one render, rather than each rendering it (32 renders of one page on 2 cores stalled them all)."""
    renders = []
    leaderboard = views.leaderboard

    def slow(*arguments, **options):
        renders.append(1)
        time.sleep(0.2)  # a render long enough that every reader arrives while it runs
        return leaderboard(*arguments, **options)

    monkeypatch.setattr(views, "leaderboard", slow)
    app = create_app(ServerSettings(database=server_database))

    async def readers(count: int):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://leaderboard") as client:
            stored = await client.post("/api/v1/runs", content=body(sample_runs.standard_run()), headers=bearer(token))
            assert stored.status_code == 201
            pages = await asyncio.gather(*(client.get("/leaderboard/mobilenetv3") for _ in range(count)))
            rendered = len(renders)
            missing = await asyncio.gather(*(client.get("/leaderboard/not_a_workload") for _ in range(3)))
        return pages, rendered, missing

    pages, rendered, missing = asyncio.run(readers(16))
    assert {page.status_code for page in pages} == {200} and len({page.text for page in pages}) == 1
    assert rendered == 1
    assert [page.status_code for page in missing] == [404] * 3 and len(renders) == 1 + 3  # a refusal: each its own
    app.state.history.close()
