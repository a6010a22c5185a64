"""`batchmark token` and `batchmark submit` end to end against a live `batchmark serve` on 127.0.0.1."""

from __future__ import annotations

import json
import math
import os

import httpx
import pytest

from batchmark.store import open_history
from tests import sample_runs
from tests.helpers import batchmark
from tests.server.helpers import count
from tests.server.live import free_port, live_server


def one_line_error(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


@pytest.fixture
def local_history(tmp_path):
    """The user's own history, with one run in it, whose first row has a diverged (NaN) loss."""
    run = sample_runs.standard_run()
    run.rows[0].measured.losses[2] = math.nan
    database = str(tmp_path / "mine.sqlite")
    history = open_history(database)
    history.import_run(run)
    history.close()
    return run, database


def test_submit_to_a_live_server(tmp_path, database_url, local_history, monkeypatch):
    run, mine = local_history
    made = batchmark("token", "create", "alice", "--db", database_url)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert len(token) >= 43 and "cannot be shown again" in made.stderr
    assert one_line_error(batchmark("token", "create", "alice", "--db", database_url)).startswith(
        "error: a token named 'alice' exists already")

    with live_server(database_url, env={"BATCHMARK_SERVER_MAX_BODY_BYTES": "65536"}) as url:
        sent = batchmark("submit", "latest", "--server", url, "--token", token, "--db", mine)
        assert sent.returncode == 0, sent.stderr
        assert sent.stderr.strip() == f"submitted run {run.run_id} (6 rows), verified: {url}/runs/{run.run_id}"
        # Again, with the token from the environment: stored once.
        again = batchmark("submit", run.run_id[:10], "--server", url, "--db", mine,
                          env={**os.environ, "BATCHMARK_TOKEN": token})
        assert again.returncode == 0 and "already on the server (nothing new stored)" in again.stderr
        stored = httpx.get(f"{url}/api/v1/runs/{run.run_id}").json()["run"]
        assert stored["rows"][1] == json.loads(run.rows[1].model_dump_json())
        assert stored["rows"][0]["measured"]["losses"][2] is None  # NaN kept; JSON has no NaN, so null
        assert stored["rows"][0]["measured"]["step_seconds"] == run.rows[0].measured.step_seconds
        assert run.machine.hostname in httpx.get(f"{url}/leaderboard/mobilenetv3").text

        refused = batchmark("submit", "latest", "--server", url, "--token", "wrong", "--db", mine)
        assert refused.returncode == 1
        assert one_line_error(refused) == (f"error: {url} refused run {run.run_id}: HTTP 401: the upload token is not "
                                           f"valid or was revoked")
        # A chunked body over the limit, against the real server: 413 while streaming.
        oversized = httpx.post(f"{url}/api/v1/runs", content=(b" " * 8192 for _ in range(10)),
                               headers={"Authorization": f"Bearer {token}"})
        assert oversized.status_code == 413
        assert batchmark("token", "revoke", "alice", "--db", database_url).returncode == 0
        revoked = batchmark("submit", "latest", "--server", url, "--token", token, "--db", mine)
        assert revoked.returncode == 1 and "HTTP 401" in one_line_error(revoked)
    assert count(database_url, "runs") == 1
    listed = batchmark("token", "list", "--db", database_url)
    assert listed.returncode == 0 and "alice" in listed.stdout and "revoked" in listed.stdout


def test_submit_errors_are_one_line(tmp_path, local_history):
    _, mine = local_history
    closed = f"http://127.0.0.1:{free_port()}"
    unreachable = batchmark("submit", "latest", "--server", closed, "--token", "t", "--db", mine)
    assert unreachable.returncode == 1 and one_line_error(unreachable).startswith(f"error: cannot reach {closed}")
    no_token = batchmark("submit", "latest", "--server", closed, "--db", mine)
    assert no_token.returncode == 2 and "--token (or BATCHMARK_TOKEN) is required" in one_line_error(no_token)
    bad_url = batchmark("submit", "latest", "--server", "ftp://x", "--token", "t", "--db", mine)
    assert bad_url.returncode == 2 and "must be an http:// or https:// URL" in one_line_error(bad_url)
    no_run = batchmark("submit", "nosuchrun", "--server", closed, "--token", "t", "--db", mine)
    assert no_run.returncode == 2 and "no run 'nosuchrun'" in one_line_error(no_run)
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_text("hello")
    serving = batchmark("serve", "--db", str(not_a_database), "--port", str(free_port()))
    assert serving.returncode == 2 and "not a SQLite database" in one_line_error(serving)


def test_serve_with_workers_shares_one_rate_limit_and_times_out_slow_bodies(database_url):
    """`serve --workers 2`: two processes answer, a token's limit counts the submissions made to either, and a
    client that stops sending its body gets 408 at the deadline, on the real server."""
    import socket
    import time

    import psutil

    from batchmark.store.tokens import create_token
    from tests.server.helpers import body

    history = open_history(database_url)
    _, token = create_token(history, "alice")
    history.close()
    env = {"BATCHMARK_SERVER_SUBMISSIONS_PER_WINDOW": "3", "BATCHMARK_SERVER_BODY_SECONDS": "1"}
    with live_server(database_url, env=env, arguments=("--workers", "2")) as url:
        port = int(url.rsplit(":", 1)[1])
        server = next(process for process in psutil.process_iter(["cmdline"])
                      if str(port) in (process.info["cmdline"] or []) and "serve" in process.info["cmdline"])
        workers = [child for child in server.children(recursive=True) if "spawn" in " ".join(child.cmdline())]
        assert len(workers) == 2
        answers = [httpx.post(f"{url}/api/v1/runs", content=body(sample_runs.standard_run()),
                              headers={"Authorization": f"Bearer {token}", "Connection": "close"}).status_code
                   for _ in range(5)]  # a new connection each: the kernel hands them to either worker
        assert answers == [201, 201, 201, 429, 429]

        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            started = time.monotonic()
            client.sendall(f"POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                           f"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"sch".encode())
            reply = client.recv(4096).decode()
        assert reply.startswith("HTTP/1.1 408") and time.monotonic() - started < 5
    assert count(database_url, "runs") == 3
