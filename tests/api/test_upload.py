"""`batchmark submit` believes only a leaderboard's own answers: not a redirect, not a proxy's page, not a body of
another shape. Against a fake server on 127.0.0.1 that answers what each test tells it to."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from batchmark.api.upload import submit
from batchmark.errors import SubmitRefused
from batchmark.store import open_history
from tests import sample_runs
from tests.helpers import batchmark


class FakeServer:
    """Answers every request with `status`, `headers` and `body`, and keeps what it was sent."""

    def __init__(self):
        self.status, self.headers, self.body = 201, {}, b""
        self.requests: list[tuple[str, str, bytes]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                server.requests.append((self.command, self.path, self.rfile.read(length)))
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            do_GET = do_POST = _answer

            def log_message(self, *args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"

    def answer(self, status: int, body: bytes | dict, content_type: str = "application/json", **headers):
        self.status = status
        self.body = json.dumps(body).encode() if isinstance(body, dict) else body
        self.headers = {"Content-Type": content_type, **headers}


@pytest.fixture
def fake_server():
    server = FakeServer()
    thread = threading.Thread(target=server.http.serve_forever, daemon=True)
    thread.start()
    yield server
    server.http.shutdown()
    server.http.server_close()


@pytest.fixture
def history(tmp_path):
    database = str(tmp_path / "mine.sqlite")
    run = sample_runs.standard_run()
    open_history(database).import_run(run)
    return run, database


def leaderboard_answer(run, stored=True, **changes) -> dict:
    return {"stored": stored, "run_id": run.run_id, "verified": True, "reasons": [],
            "url": f"http://leaderboard/runs/{run.run_id}", **changes}


def test_the_leaderboard_s_own_answers_are_believed(fake_server, history):
    run, database = history
    fake_server.answer(201, leaderboard_answer(run))
    sent = submit("latest", fake_server.url, "token", database=database)
    assert (sent.run_id, sent.stored, sent.verified, sent.rows) == (run.run_id, True, True, len(run.rows))
    fake_server.answer(200, leaderboard_answer(run, stored=False, verified=False, reasons=["too fast"]))
    again = submit("latest", fake_server.url, "token", database=database)
    assert (again.stored, again.verified, again.reasons) == (False, False, ["too fast"])
    method, path, body = fake_server.requests[0]
    assert (method, path, json.loads(body)["run_id"]) == ("POST", "/api/v1/runs", run.run_id)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_says_where_it_pointed(fake_server, history, status):
    run, database = history
    fake_server.answer(status, b"", "text/html", Location="https://elsewhere.example/api/v1/runs")
    with pytest.raises(SubmitRefused, match=rf"redirected the upload \(HTTP {status}\) to "
                                            r"https://elsewhere.example/api/v1/runs; nothing was sent there"):
        submit("latest", fake_server.url, "token", database=database)
    assert len(fake_server.requests) == 1


@pytest.mark.parametrize("status, body, content_type", [
    (200, b"<html><body>Welcome to the proxy</body></html>", "text/html"),  # a proxy's or a login wall's page
    (201, b"{}", "application/json"),  # JSON, but not a leaderboard's answer
    (201, b'{"stored": "yes", "run_id": 1}', "application/json"),
    (202, None, "application/json"),  # the right body with a status the leaderboard never sends
    (204, b"", "application/json"),
], ids=["html-page", "empty-object", "wrong-types", "accepted-202", "no-content-204"])
def test_anything_else_below_400_is_an_error_not_a_success(fake_server, history, status, body, content_type):
    run, database = history
    fake_server.answer(status, leaderboard_answer(run) if body is None else body, content_type)
    with pytest.raises(SubmitRefused, match=rf"answered HTTP {status} \({content_type}\) with something other than a "
                                            rf"leaderboard's answer, so run {run.run_id} may not be stored"):
        submit("latest", fake_server.url, "token", database=database)


def test_an_answer_about_another_run_or_the_wrong_status_is_refused(fake_server, history):
    run, database = history
    fake_server.answer(201, leaderboard_answer(run, run_id="20200101T000000Z-000000"))
    with pytest.raises(SubmitRefused, match="not an answer to run"):
        submit("latest", fake_server.url, "token", database=database)
    fake_server.answer(201, leaderboard_answer(run, stored=False))  # 201 says stored now; the body says not
    with pytest.raises(SubmitRefused, match=r"HTTP 201 .*\(stored: false\)"):
        submit("latest", fake_server.url, "token", database=database)


def test_the_command_says_it_in_one_line_and_fails(fake_server, history):
    _, database = history
    fake_server.answer(302, b"", "text/html", Location="https://login.example/")
    result = batchmark("submit", "latest", "--server", fake_server.url, "--token", "t", "--db", database, timeout=60)
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {fake_server.url} redirected the upload (HTTP 302) to https://login.example/")
    assert "already on the server" not in result.stderr
