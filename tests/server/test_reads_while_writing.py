"""On SQLite a page is served while another connection holds the write lock: reads never queue behind a
writer (before, every transaction began IMMEDIATE, and a page waited out the 60 s busy timeout, then 503)."""

from __future__ import annotations

import sqlite3
import time

import pytest

from batchmark.store import database
from tests import sample_runs
from tests.server.conftest import bearer, make_client
from tests.server.helpers import body


@pytest.fixture
def sqlite_database(tmp_path):
    return str(tmp_path / "leaderboard.sqlite")


def test_pages_are_served_while_a_writer_holds_the_lock(sqlite_database, monkeypatch):
    from batchmark.store import open_history
    from batchmark.store.tokens import create_token

    history = open_history(sqlite_database)
    _, token = create_token(history, "alice")
    history.close()
    # Were a read to wait for the lock, it would fail after this long rather than the usual minute.
    monkeypatch.setattr(database, "SQLITE_BUSY_TIMEOUT_SECONDS", 3)
    run = sample_runs.standard_run()
    with make_client(sqlite_database) as client:
        assert client.post("/api/v1/runs", content=body(run), headers=bearer(token)).status_code == 201
        writer = sqlite3.connect(sqlite_database, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")  # what a submission's transaction holds while it writes
        writer.execute("UPDATE upload_tokens SET name = 'bob'")
        try:
            for path in ("/", "/machines", f"/runs/{run.run_id}", "/api/v1/leaderboard/mobilenetv3",
                         "/api/v1/runs", f"/api/v1/runs/{run.run_id}"):
                started = time.monotonic()
                answer = client.get(path)
                assert answer.status_code == 200, (path, answer.text[:200])
                assert time.monotonic() - started < 1, path
        finally:
            writer.execute("ROLLBACK")
            writer.close()
