"""Pages and API answers are rendered once per version of the data and served from memory until a submission
changes it, in every server process that shares the database."""

from __future__ import annotations

from batchmark.server import views
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
