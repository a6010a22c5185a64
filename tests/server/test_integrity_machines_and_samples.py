"""A machine belongs to the token that first submitted it, and a run's samples are capped, stored one row a series,
and read back exactly (NaN losses included)."""

from __future__ import annotations

import math
import time

from batchmark.store import open_history
from batchmark.store.tokens import create_token
from tests import sample_runs
from tests.server.conftest import bearer
from tests.server.helpers import body, count, fast_run


def other_token(database: str, name: str = "mallory") -> str:
    history = open_history(database)
    try:
        return create_token(history, name)[1]
    finally:
        history.close()


def test_another_token_cannot_post_under_a_machine_it_does_not_own(client, token, server_database):
    mallory = other_token(server_database)
    alice_run, forged_run = fast_run("victim", factor=1.0, calibration=None), fast_run("victim", 0.5, calibration=None)
    assert alice_run.machine == forged_run.machine  # the same fingerprint
    assert client.post("/api/v1/runs", content=body(alice_run), headers=bearer(token)).status_code == 201
    assert client.post("/api/v1/runs", content=body(forged_run), headers=bearer(mallory)).status_code == 201
    again = fast_run("victim", factor=1.1, calibration=None)
    assert client.post("/api/v1/runs", content=body(again), headers=bearer(token)).status_code == 201

    machines = {machine["machine"]: machine["runs"] for machine in client.get("/api/v1/machines").json()}
    assert len(machines) == 2 and sorted(machines.values()) == [1, 2] and count(server_database, "machines") == 2
    runs = {run["run_id"]: run["machine"] for run in client.get("/api/v1/runs").json()}
    assert runs[alice_run.run_id] == runs[again.run_id] != runs[forged_run.run_id]
    entries = client.get("/api/v1/leaderboard/resnet50v2_finetune").json()["entries"]
    # Two entries, one per machine: the forged run did not displace alice's.
    assert {(entry["machine"], entry["run_id"]) for entry in entries} == {
        (runs[alice_run.run_id], alice_run.run_id), (runs[forged_run.run_id], forged_run.run_id)}
    alice_page = client.get(f"/machines/{runs[alice_run.run_id]}").text
    assert alice_run.run_id in alice_page and forged_run.run_id not in alice_page


def test_every_sample_is_kept_exactly_one_row_a_series(client, token, server_database):
    row = sample_runs.ok_row("mobilenetv3", "torch", "baseline", [2.5 + index * 1e-9 for index in range(1000)],
                             train_flops=1.29e9, losses=[math.nan, 2.3, 0.1 / 3] * 333 + [1e-300])
    row.measured.warmup_seconds = [0.1 * 3 + index for index in range(1000)]
    run = sample_runs.run([row])
    assert client.post("/api/v1/runs", content=body(run), headers=bearer(token)).status_code == 201
    assert count(server_database, "samples") == 3  # warm-up, steps, losses: one row each, not 3,000
    stored = open_history(server_database).load(run.run_id).rows[0].measured
    for series in ("warmup_seconds", "step_seconds", "losses"):
        sent, read = getattr(run.rows[0].measured, series), getattr(stored, series)
        assert len(read) == len(sent) and all(a == b or (math.isnan(a) and math.isnan(b)) for a, b in zip(sent, read))


def test_every_array_is_capped_and_refused_in_a_moment(client, token, server_database):
    data = sample_runs.standard_run()
    data.rows[0].measured.warmup_seconds = [0.5] * 20_000  # the 43 KB body
    started = time.perf_counter()
    answer = client.post("/api/v1/runs", content=body(data), headers=bearer(token))
    assert time.perf_counter() - started < 1.0
    assert answer.status_code == 422
    assert answer.json()["detail"] == ("request body: malformed results: rows.0.measured.warmup_seconds: 20000 items, "
                                       "this server takes at most 1000 in any list")
    data = sample_runs.standard_run()
    data.rows = data.rows * 200  # 1,200 rows
    answer = client.post("/api/v1/runs", content=body(data), headers=bearer(token))
    assert answer.status_code == 422 and "rows: 1200 items, this server takes at most 1000" in answer.json()["detail"]
    assert count(server_database, "runs") == 0
