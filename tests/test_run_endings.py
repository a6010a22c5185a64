"""A run says how it ended: finished, interrupted (and by what), still running, or unfinished because its process was
killed; an unfinished run is not submitted as a whole one. And when one of its stores fails (a full disk), the other
keeps every row, and the run ends saying which failed and where the rows are."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
from sqlalchemy import update

import batchmark
from batchmark.api.upload import submit
from batchmark.errors import UsageError
from batchmark.results import load_results
from batchmark.store import StoreError, open_history
from batchmark.store.history import History
from batchmark.store.tables import Run
from tests import sample_runs
from tests.api.test_upload import fake_server, leaderboard_answer  # noqa: F401  (fake_server is a fixture)
from tests.helpers import batchmark as batchmark_command


def a_dead_pid() -> int:
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    return ended.pid


def started_run(history: History, **changes):
    """A run as `batchmark run` starts it (by this process, on this machine), with two rows written and no end yet."""
    run = sample_runs.standard_run(**{"hostname": socket.gethostname(), **changes})
    run.finished_at = None
    history.start_run(run)
    for position, row in enumerate(run.rows[:2]):
        history.add_row(run.run_id, position, row)
    run.rows = run.rows[:2]
    return run


def written_by(history: History, run_id: str, pid: int, started: float | None = None) -> None:
    changes = {"writer_pid": pid} if started is None else {"writer_pid": pid, "writer_started": started}
    with history.engine.begin() as connection:
        connection.execute(update(Run).where(Run.run_id == run_id).values(**changes))


def test_the_history_tells_a_running_run_from_one_killed_or_finished(database_url):
    history = open_history(database_url)
    run = started_run(history)
    assert history.state(run.run_id) == "running"  # its writer, this process, is alive
    written_by(history, run.run_id, a_dead_pid())
    assert history.state(run.run_id) == "unfinished"  # kill -9: no end, and no writer any more
    written_by(history, run.run_id, os.getpid(), started=12345.0)  # a live pid, reused by another process
    assert history.state(run.run_id) == "unfinished"

    run.interrupted, run.finished_at = True, "2026-11-30T12:00:00+00:00"
    history.finish_run(run)
    assert history.state(run.run_id) == "interrupted"

    elsewhere = started_run(history, hostname="another-machine")
    assert history.state(elsewhere.run_id) == "elsewhere"  # its writer cannot be asked from here
    imported = sample_runs.standard_run(hostname="third")
    imported.finished_at = None  # a results JSON left by a killed run
    history.import_run(imported)
    assert history.state(imported.run_id) == "unfinished"
    complete = sample_runs.standard_run(hostname="fourth")
    history.import_run(complete)
    assert history.state(complete.run_id) == "finished"
    states = {stored.run_id: (stored.state, stored.stopped_by) for stored in history.runs()}
    assert states[complete.run_id] == ("finished", None)


def test_batchmark_history_shows_an_unfinished_run_so(tmp_path):
    database = str(tmp_path / "history.sqlite")
    history = open_history(database)
    run = started_run(history)
    written_by(history, run.run_id, a_dead_pid())
    result = batchmark_command("history", "--db", database, "--json", timeout=60)
    (listed,) = json.loads(result.stdout)
    assert (listed["state"], listed["finished_at"]) == ("unfinished", None)
    table = batchmark_command("history", "--db", database, timeout=60)
    assert "unfinished (the process ended without finishing: killed?)" in " ".join(table.stdout.split())


@pytest.mark.parametrize("ending", ["killed", "interrupted"])
def test_submit_refuses_a_run_that_did_not_finish_unless_asked(tmp_path, fake_server, ending):  # noqa: F811
    database = str(tmp_path / "history.sqlite")
    history = open_history(database)
    run = started_run(history)
    if ending == "killed":
        written_by(history, run.run_id, a_dead_pid())
    else:
        run.interrupted, run.finished_at = True, "2026-11-30T12:00:00+00:00"
        history.finish_run(run)
    reason = "did not finish" if ending == "killed" else "was interrupted"
    with pytest.raises(UsageError, match=rf"run {run.run_id} {reason}.* --allow-partial submits them"):
        submit(run.run_id, fake_server.url, "token", database=database)
    assert fake_server.requests == []

    fake_server.answer(201, leaderboard_answer(run))
    sent = submit(run.run_id, fake_server.url, "token", database=database, allow_partial=True)
    assert sent.stored and sent.rows == 2
    (_, _, body), = fake_server.requests
    told = json.loads(body)
    assert told["interrupted"] is True  # the server hears that the run is partial
    assert told["finished_at"] == (None if ending == "killed" else run.finished_at)


# A full disk ---------------------------------------------------------------------------------------------------

def test_when_the_results_json_cannot_be_written_the_history_keeps_every_row(tmp_path, fake_workloads, monkeypatch):
    from typer.testing import CliRunner

    from batchmark import cli

    output = tmp_path / "out" / "results.json"
    database = str(tmp_path / "history.sqlite")
    real_replace = os.replace

    def disk_full(source, target, *args, **kwargs):
        if str(target) == str(output):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(source, target, *args, **kwargs)

    monkeypatch.setattr(os, "replace", disk_full)
    sigterm = signal.getsignal(signal.SIGTERM)  # `batchmark run` handles SIGTERM: this process's is put back
    try:
        result = CliRunner().invoke(cli.app, ["run", "tiny_cnn", "tiny_cnn", "--framework", "torch", "--plan",
                                              "baseline", "--quick", "--steps", "3", "--output", str(output),
                                              "--db", database])
    finally:
        signal.signal(signal.SIGTERM, sigterm)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)  # one line, no traceback
    assert not output.exists() and list(output.parent.iterdir()) == []  # no temporary file left behind
    (run,) = open_history(database).runs()
    assert (run.state, run.rows, run.failed) == ("finished", 2, 0)
    text = " ".join(result.stderr.split())
    assert f"cannot write the results JSON {output} (No space left on device)" in text  # said once, as it happened
    assert (f"error: the results JSON {output} could not be written (No space left on device); every row is in "
            f"the history") in text and f"batchmark export {run.run_id}" in text
    assert f"results: {output}" not in text


def test_when_the_history_fails_the_results_json_keeps_every_row(tmp_path, fake_workloads, monkeypatch):
    real_add_row = History.add_row

    def fails_from_the_second_row(self, run_id, position, row):
        if position >= 1:
            raise StoreError(f"{self.location}: database or disk is full")
        return real_add_row(self, run_id, position, row)

    monkeypatch.setattr(History, "add_row", fails_from_the_second_row)
    output = tmp_path / "results.json"
    outcome = batchmark.run_suite(["tiny_cnn", "tiny_cnn"], ["torch"], ["baseline"], quick=True, steps=3,
                                  output=output, database=str(tmp_path / "history.sqlite"), report=False)
    assert outcome.results_saved and outcome.history_location is None
    assert [row.status for row in load_results(output).rows] == ["ok", "ok"]
    (sentence,) = outcome.unsaved
    assert "database or disk is full" in sentence and f"every row is in the results JSON {output}" in sentence
