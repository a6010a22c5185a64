"""The JSON API on SQLite and PostgreSQL: submitting (auth, limits, idempotency) and reading it all back."""

from __future__ import annotations

import json
import threading

import pytest

from batchmark.results import SCHEMA_VERSION
from batchmark.store import open_history
from batchmark.store.tokens import revoke_token
from tests import sample_runs
from tests.server.conftest import bearer, make_client
from tests.server.helpers import body, count, fast_run


def submit(client, run, token):
    return client.post("/api/v1/runs", content=body(run), headers=bearer(token))


def test_a_run_is_stored_once_and_read_back_whole(client, token, server_database):
    run = sample_runs.standard_run()
    first = submit(client, run, token)
    assert first.status_code == 201, first.text
    assert first.json() == {"stored": True, "run_id": run.run_id, "verified": True, "reasons": [],
                            "url": f"http://testserver/runs/{run.run_id}"}
    again = submit(client, run, token)
    assert again.status_code == 200 and again.json()["stored"] is False
    assert [count(server_database, table) for table in ("runs", "submissions", "results")] == [1, 1, 6]

    read = client.get(f"/api/v1/runs/{run.run_id}").json()
    assert read["verified"] is True and read["reasons"] == []
    assert read["run"] == json.loads(run.model_dump_json())  # every row and raw sample, derived fields equal
    listed = client.get("/api/v1/runs").json()
    assert [(entry["run_id"], entry["rows"], entry["failed"]) for entry in listed] == [(run.run_id, 6, 1)]


def test_the_same_run_id_with_other_content_is_a_conflict(client, token, server_database):
    run = sample_runs.standard_run()
    assert submit(client, run, token).status_code == 201
    changed = run.model_copy(update={"profile": "quick"})
    refused = submit(client, changed, token)
    assert refused.status_code == 409 and "different content" in refused.json()["detail"]
    assert count(server_database, "runs") == 1


def test_concurrent_duplicate_submissions_store_one_run(server_database, token):
    run = sample_runs.standard_run()
    answers = []
    with make_client(server_database) as client:
        threads = [threading.Thread(target=lambda: answers.append(submit(client, run, token).status_code))
                   for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(answers) == [200] * 5 + [201]
    assert count(server_database, "runs") == 1 and count(server_database, "submissions") == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"},
                                     {"Authorization": "Bearer "}])
def test_no_valid_token_is_401_and_writes_nothing(client, server_database, headers):
    answer = client.post("/api/v1/runs", content=body(sample_runs.standard_run()), headers=headers)
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert count(server_database, "runs") == 0 and count(server_database, "machines") == 0


def test_a_revoked_token_is_401(client, token, server_database):
    assert submit(client, sample_runs.standard_run(), token).status_code == 201
    history = open_history(server_database)
    revoke_token(history, "alice")
    history.close()
    answer = submit(client, sample_runs.standard_run(), token)
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]
    assert count(server_database, "runs") == 1


def test_a_submission_looks_its_token_up_once(client, token, monkeypatch):
    """The body-limit middleware checks the token before reading the body; the route takes the token it found
    rather than asking the database again (a query a submission saved)."""
    from batchmark.server import deps

    lookups = []
    real = deps.authenticate
    monkeypatch.setattr(deps, "authenticate", lambda history, text: lookups.append(text) or real(history, text))
    assert submit(client, sample_runs.standard_run(), token).status_code == 201
    assert lookups == [token]


def test_tokens_are_stored_hashed(token, server_database):
    import sqlalchemy

    from batchmark.store.database import resolve_url
    from batchmark.store.tokens import token_hash

    engine = sqlalchemy.create_engine(resolve_url(server_database))
    with engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text("SELECT * FROM upload_tokens")).mappings().one()
    engine.dispose()
    assert token not in json.dumps({key: str(value) for key, value in stored.items()})
    assert stored["token_sha256"] == token_hash(token) and len(token) >= 43


def test_an_oversized_body_is_413_before_parsing(server_database, token):
    with make_client(server_database, max_body_bytes=4096) as client:
        declared = client.post("/api/v1/runs", content=b"{" * 5000, headers=bearer(token))
        assert declared.status_code == 413 and "at most 4096 bytes" in declared.json()["detail"]

        def chunks():  # no Content-Length: sent chunked, refused while streaming
            for _ in range(10):
                yield b" " * 1000

        streamed = client.post("/api/v1/runs", content=chunks(), headers=bearer(token))
        assert streamed.status_code == 413
        # Unauthenticated too: the limit comes before anything else reads the body.
        assert client.post("/api/v1/runs", content=b"x" * 5000).status_code == 413
    assert count(server_database, "runs") == 0


@pytest.mark.parametrize("payload, message", [
    (b"this is not json", "request body: not JSON"),
    (b"\xff\xfe", "request body: not UTF-8 text"),
    (b"[1, 2]", "request body: not a batchmark results file (no schema_version)"),
    (b"[" * 100_000, "request body: "),
])
def test_malformed_bodies_are_422_with_one_line(client, token, payload, message):
    answer = client.post("/api/v1/runs", content=payload, headers=bearer(token))
    assert answer.status_code == 422
    detail = answer.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and detail.startswith(message)


def test_an_unknown_schema_version_is_422(client, token, server_database):
    data = json.loads(body(sample_runs.standard_run()))
    data["schema_version"] = 9
    answer = client.post("/api/v1/runs", content=json.dumps(data), headers=bearer(token))
    assert answer.status_code == 422
    assert answer.json()["detail"] == (f"request body: results schema version 9 is not supported (this batchmark reads "
                                       f"version {SCHEMA_VERSION}; a newer file needs a newer batchmark)")
    assert count(server_database, "runs") == 0


def test_a_missing_field_is_422_naming_it(client, token):
    data = json.loads(body(sample_runs.standard_run()))
    del data["rows"][0]["batch_size"]
    answer = client.post("/api/v1/runs", content=json.dumps(data), headers=bearer(token))
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("request body: malformed results: rows.0.batch_size: Field required")


def test_submissions_are_rate_limited_per_token(server_database, token):
    history = open_history(server_database)
    from batchmark.store.tokens import create_token

    _, other = create_token(history, "bob")
    history.close()
    with make_client(server_database, submissions_per_window=2, rate_window_seconds=600) as client:
        assert submit(client, sample_runs.standard_run(), token).status_code == 201
        assert submit(client, sample_runs.standard_run(), token).status_code == 201
        limited = submit(client, sample_runs.standard_run(), token)
        assert limited.status_code == 429
        assert 590 <= int(limited.headers["retry-after"]) <= 600
        assert submit(client, sample_runs.standard_run(), other).status_code == 201  # each token its own count
    assert count(server_database, "runs") == 3


def test_leaderboard_best_plan_per_machine_with_filters(client, token):
    slow, fast = sample_runs.standard_run(), fast_run()
    assert submit(client, slow, token).status_code == 201
    assert submit(client, fast, token).status_code == 201
    board = client.get("/api/v1/leaderboard/mobilenetv3").json()
    assert (board["batch_size"], board["image_size"]) == (32, 224)
    assert [(entry["rank"], entry["hostname"], entry["framework"], entry["plan_label"]) for entry in board["entries"]] == [
        (1, "fast-box", "torch", "baseline"), (2, "bench-01", "torch", "baseline")]
    best = board["entries"][1]
    row = next(row for row in slow.rows if row.workload == "mobilenetv3" and row.plan_label == "baseline"
               and row.framework == "torch")
    assert best["median"] == row.statistics.median and best["samples_per_second"] == row.samples_per_second
    assert best["percent_of_peak"] == pytest.approx(row.percent_of_peak)

    tensorflow = client.get("/api/v1/leaderboard/mobilenetv3", params={"framework": "tensorflow"}).json()
    assert {entry["framework"] for entry in tensorflow["entries"]} == {"tensorflow"}
    assert client.get("/api/v1/leaderboard/mobilenetv3", params={"precision": "bf16"}).json()["entries"] == []
    assert client.get("/api/v1/leaderboard/mobilenetv3", params={"device": "cuda"}).json()["entries"] == []
    assert client.get("/api/v1/leaderboard/mobilenetv3", params={"device": "gpu"}).status_code == 422
    assert client.get("/api/v1/leaderboard/not_a_workload").status_code == 404
    summaries = {item["workload"]: item["machines"] for item in client.get("/api/v1/leaderboard").json()}
    assert summaries["mobilenetv3"] == 2 and summaries["cyclegan"] == 0


def test_machines_and_compare(client, token):
    slow, fast = sample_runs.standard_run(), fast_run()
    submit(client, slow, token), submit(client, fast, token)
    machines = {machine["hostname"]: machine for machine in client.get("/api/v1/machines").json()}
    assert set(machines) == {"bench-01", "fast-box"}
    a, b = machines["bench-01"]["machine"], machines["fast-box"]["machine"]
    detail = client.get(f"/api/v1/machines/{a}").json()
    assert [run["run_id"] for run in detail["runs"]] == [slow.run_id]
    assert detail["fingerprint"] == slow.machine.model_dump(mode="json")
    assert {(entry["workload"], entry["plan_label"]) for entry in detail["best"]} == {
        ("resnet50v2_finetune", "accelerated"), ("mobilenetv3", "baseline")}
    compared = client.get("/api/v1/compare", params={"a": a, "b": b}).json()
    assert [(pair["workload"], pair["ratio"]) for pair in compared["pairs"]] == [
        ("resnet50v2_finetune", pytest.approx(0.5)), ("mobilenetv3", pytest.approx(0.5))]
    assert client.get("/api/v1/compare", params={"a": a, "b": "0" * 16}).status_code == 404
    assert client.get("/api/v1/machines/" + "f" * 16).status_code == 404


def test_a_locally_imported_run_is_not_listed(client, server_database):
    history = open_history(server_database)
    history.import_run(sample_runs.standard_run())
    history.close()
    assert client.get("/api/v1/runs").json() == []
    assert client.get("/api/v1/machines").json() == []
    assert client.get("/api/v1/leaderboard/mobilenetv3").json()["entries"] == []


def asgi_post(app, headers: dict, receive, path: str = "/api/v1/runs") -> tuple[int, dict, bytes]:
    """One POST straight into the ASGI app, its body coming from `receive`, as a slow or hostile client sends it."""
    import anyio

    answer = {"status": None, "headers": {}, "body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = {name.decode(): value.decode() for name, value in message["headers"]}
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}

    async def call():
        with anyio.fail_after(10):  # the old middleware waited for the body forever
            await app(scope, receive, send)

    anyio.run(call)
    return answer["status"], answer["headers"], answer["body"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}])
def test_a_body_without_a_valid_token_is_refused_unread(server_database, headers):
    """Before the fix the middleware read up to 8 MiB of anyone's body before the token was looked at."""
    from batchmark.server.main import create_app
    from batchmark.server.settings import ServerSettings

    reads = []

    async def receive():
        reads.append(1)
        return {"type": "http.request", "body": b"x" * 2**20, "more_body": True}

    app = create_app(ServerSettings(database=server_database))
    status, answer_headers, answer = asgi_post(app, {**headers, "Content-Length": str(4 * 2**20)}, receive)
    assert status == 401 and answer_headers["www-authenticate"] == "Bearer" and reads == []
    assert "upload token" in json.loads(answer)["detail"]


def test_a_body_that_stops_arriving_is_408_at_the_deadline(server_database, token):
    """Content-Length 1000, 5 bytes, then nothing: answered at the deadline, not held open."""
    import time

    import anyio

    from batchmark.server.main import create_app
    from batchmark.server.settings import ServerSettings

    sent = []

    async def receive():
        if not sent:
            sent.append(1)
            return {"type": "http.request", "body": b'{"sc', "more_body": True}
        await anyio.sleep_forever()

    app = create_app(ServerSettings(database=server_database, body_seconds=0.5))
    started = time.monotonic()
    status, _, answer = asgi_post(app, {"Content-Length": "1000", **bearer(token)}, receive)
    assert status == 408 and time.monotonic() - started < 3
    assert json.loads(answer)["detail"] == "the request body did not arrive within 0.5 s"
    assert count(server_database, "runs") == 0


def test_the_rate_limit_holds_across_server_processes(server_database, token):
    """Two apps on one database, as two `serve --workers` processes are: their attempts are counted together."""
    with make_client(server_database, submissions_per_window=2, rate_window_seconds=600) as first, \
            make_client(server_database, submissions_per_window=2, rate_window_seconds=600) as second:
        assert submit(first, sample_runs.standard_run(), token).status_code == 201
        assert submit(second, sample_runs.standard_run(), token).status_code == 201
        limited = submit(first, sample_runs.standard_run(), token)
        assert limited.status_code == 429 and 590 <= int(limited.headers["retry-after"]) <= 600
        assert submit(second, sample_runs.standard_run(), token).status_code == 429
    assert count(server_database, "runs") == 2
