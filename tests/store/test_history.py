"""The history database: what goes in comes back out unchanged, row by row, from several writers at once."""

from __future__ import annotations

import math
import multiprocessing
import sqlite3
import uuid

import pytest

from batchmark.store import StoreError, open_history
from tests import sample_runs


def test_a_run_comes_back_exactly_as_it_went_in(database_url):
    run = sample_runs.standard_run()
    run.rows[0].measured.losses[2] = math.nan  # a diverged loss is data too; SQLite cannot store NaN itself
    history = open_history(database_url)
    assert history.import_run(run)
    back = history.load(run.run_id)
    assert math.isnan(back.rows[0].measured.losses[2])
    run.rows[0].measured.losses[2] = back.rows[0].measured.losses[2] = 0.0
    assert back.model_dump() == run.model_dump()
    assert back.rows[1].speedup_vs_baseline == pytest.approx(10.0 / 8.3 * (8.3 / back.rows[1].statistics.median)
                                                             * (back.rows[0].statistics.median / 10.0))


def test_importing_a_run_twice_stores_it_once(database_url):
    history = open_history(database_url)
    run = sample_runs.standard_run()
    assert history.import_run(run) is True
    assert history.import_run(run) is False
    assert [summary.run_id for summary in history.runs()] == [run.run_id]
    assert history.runs()[0].rows == len(run.rows)


def test_rows_are_kept_as_they_finish_so_a_crash_loses_only_the_row_in_flight(database_url):
    history = open_history(database_url)
    run = sample_runs.standard_run()
    rows, run.rows, run.finished_at = run.rows, [], None
    history.start_run(run)
    for position, row in enumerate(rows[:2]):
        history.add_row(run.run_id, position, row)
    # The process dies here: no finish_run. A new process reads what was written.
    reopened = open_history(database_url)
    back = reopened.load(run.run_id)
    assert [row.model_dump() for row in back.rows] == [row.model_dump() for row in rows[:2]]
    assert back.finished_at is None


def test_machines_are_deduplicated_by_hardware_and_software_stays_with_the_run(database_url):
    history = open_history(database_url)
    first = sample_runs.standard_run(torch_version="2.13.0+cpu")
    updated = sample_runs.standard_run(torch_version="2.14.0+cpu")  # same machine after an upgrade
    other = sample_runs.standard_run(hostname="laptop")
    for run in (first, updated, other):
        history.import_run(run)
    summaries = history.runs()
    assert {summary.hostname for summary in summaries} == {"bench-01", "laptop"}
    assert history.load(updated.run_id).machine.frameworks["torch"] == "2.14.0+cpu"
    assert [summary.run_id for summary in history.runs(machine="LAPTOP")] == [other.run_id]
    assert [summary.run_id for summary in history.runs(machine="epyc")] == [other.run_id, updated.run_id, first.run_id]


def test_history_filters_by_workload_and_lists_newest_first(database_url):
    history = open_history(database_url)
    older = sample_runs.standard_run()
    newer = sample_runs.run([sample_runs.ok_row("cyclegan", "torch", "baseline", [6.5, 6.6, 6.7])])
    history.import_run(newer)
    history.import_run(older)
    assert [summary.run_id for summary in history.runs()] == [newer.run_id, older.run_id]
    assert [summary.run_id for summary in history.runs(workload="mobilenetv3")] == [older.run_id]
    assert history.runs(workload="densenet121") == []
    assert history.runs(limit=1)[0].run_id == newer.run_id


def test_runs_are_found_by_id_prefix_or_latest(database_url):
    history = open_history(database_url)
    first = sample_runs.run([], run_id="20261128T100000Z-aaaaaa")
    second = sample_runs.run([], run_id="20261128T110000Z-bbbbbb")
    for run in (first, second):
        history.import_run(run)
    assert history.resolve("latest") == second.run_id
    assert history.resolve("latest~1") == first.run_id
    assert history.resolve("20261128T10") == first.run_id
    assert history.resolve(second.run_id) == second.run_id
    with pytest.raises(StoreError, match="ambiguous"):
        history.resolve("20261128T1")
    with pytest.raises(StoreError, match="no run '2025'"):
        history.resolve("2025")
    with pytest.raises(StoreError, match="holds 2 run"):
        history.resolve("latest~2")
    with pytest.raises(StoreError, match="no run '%'"):  # LIKE wildcards are not wildcards here
        history.resolve("%")


def _write_run(database_url: str, hostname: str, rows: int) -> str:
    history = open_history(database_url)
    run = sample_runs.run([], hostname=hostname, run_id=f"20261128T120000Z-{uuid.uuid4().hex[:6]}")
    history.start_run(run)
    for position in range(rows):
        history.add_row(run.run_id, position,
                        sample_runs.ok_row("mobilenetv3", "torch", f"plan-{position}", [2.5, 2.6, 2.55]))
    run.rows = []
    history.finish_run(run)
    return run.run_id


def test_two_runs_writing_at_once_both_succeed(database_url):
    """Two processes, each opening the (new) database and writing a run row by row, interleaved."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        run_ids = pool.starmap(_write_run, [(database_url, "bench-01", 25), (database_url, "bench-01", 25)])
    history = open_history(database_url)
    assert sorted(summary.run_id for summary in history.runs()) == sorted(run_ids)
    assert all(summary.rows == 25 for summary in history.runs())
    assert {summary.hostname for summary in history.runs()} == {"bench-01"}


def test_a_file_that_is_not_a_database_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "history.sqlite"
    path.write_bytes(b"my thesis, chapter 3\n" * 100)
    with pytest.raises(StoreError) as caught:
        open_history(str(path))
    message = str(caught.value)
    assert str(path) in message and "not a SQLite database" in message and "\n" not in message
    assert path.read_bytes() == b"my thesis, chapter 3\n" * 100


def test_a_corrupt_sqlite_database_is_a_one_line_error_and_left_alone(tmp_path):
    path = tmp_path / "history.sqlite"
    history = open_history(str(path))
    history.import_run(sample_runs.standard_run())
    history.close()
    with sqlite3.connect(path) as connection:  # fold the WAL in, so the damage below hits real pages
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[100:4096 * 3] = b"\xff" * (4096 * 3 - 100)  # the schema page and the first tables' pages
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError) as caught:
        history = open_history(str(path))
        history.runs()
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)
    assert path.read_bytes() == bytes(data)


def test_a_directory_is_not_a_database(tmp_path):
    with pytest.raises(StoreError, match="is a directory"):
        open_history(str(tmp_path))


def test_an_unreachable_server_is_a_one_line_error():
    with pytest.raises(StoreError) as caught:
        open_history("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert "127.0.0.1" in str(caught.value) and "\n" not in str(caught.value)


def test_a_url_that_is_not_a_url_is_a_one_line_error():
    with pytest.raises(StoreError, match="not a SQLAlchemy URL"):
        open_history("nonsense://::")
