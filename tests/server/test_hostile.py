"""Hostile strings in every field a page shows: stored verbatim, escaped on every page, never run as markup
or SQL. An unknown workload (a workload is a name batchmark knows) is refused instead."""

from __future__ import annotations

import json

import pytest
import sqlalchemy

from batchmark.machine import GpuFingerprint
from batchmark.store.database import resolve_url
from tests import sample_runs
from tests.server.conftest import bearer
from tests.server.helpers import body, count

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'; DROP TABLE runs; --",
    "机器 ✓ Ωmega \u202egnp.exe 🚀",  # CJK, symbols, a right-to-left override, an emoji
    "</script><script>alert(2)</script>",
)
MARKUP = ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "<script>alert(2)</script>")


def hostile_run(text: str, index: int):
    ok = sample_runs.ok_row("mobilenetv3", "torch", text, [2.5, 2.6, 2.55, 2.58, 2.52], train_flops=1.29e9,
                            warnings=[(text, f"warning: {text}")])
    failed = sample_runs.failed_row("resnet50v2_finetune", "torch", text, message=f"failure: {text}")
    run = sample_runs.run([ok, failed], hostname=f"{text}{index}", calibration=sample_runs.calibration())
    run.machine.cpu.model = f"cpu {text}"
    run.machine.gpus = [GpuFingerprint(kind="cuda", name=f"gpu {text}", driver=text, memory=text,
                                       compute_capability="8.9")]
    run.machine.os.release = text
    run.command = ["batchmark", "run", text]
    ok.measured.device_name = f"device {text}"
    return run


def pages(client) -> dict[str, str]:
    machines = [machine["machine"] for machine in client.get("/api/v1/machines").json()]
    runs = [run["run_id"] for run in client.get("/api/v1/runs").json()]
    paths = ["/", "/leaderboard/mobilenetv3", "/machines", "/compare", f"/compare?a={machines[0]}&b={machines[1]}",
             *(f"/machines/{key}" for key in machines), *(f"/runs/{run_id}" for run_id in runs)]
    return {path: client.get(path) for path in paths}


def test_hostile_strings_are_stored_verbatim_and_escaped_everywhere(client, token, server_database):
    runs = [hostile_run(text, index) for index, text in enumerate(HOSTILE)]
    for run in runs:
        answer = client.post("/api/v1/runs", content=body(run), headers=bearer(token))
        assert answer.status_code == 201, answer.text
    shown = pages(client)
    for path, page in shown.items():
        assert page.status_code == 200, path
        for markup in MARKUP:
            assert markup not in page.text, f"{path} shows {markup!r} unescaped"
    leaderboard = shown["/leaderboard/mobilenetv3"].text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;0" in leaderboard  # the hostname, escaped, as the table shows it
    chart = leaderboard.split('id="chart-leaderboard-figure">', 1)[1].split("</script>", 1)[0]
    assert "alert(1)" in chart and "<" not in chart  # the chart's JSON names it, and cannot close its <script>
    run_page = shown[f"/runs/{runs[1].run_id}"].text
    assert "failure: &#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in run_page
    assert "机器 ✓ Ωmega" in shown["/machines"].text

    # Stored exactly as sent: read with plain SQL, and through the API.
    engine = sqlalchemy.create_engine(resolve_url(server_database))
    with engine.connect() as connection:
        hostnames = set(connection.execute(sqlalchemy.text("SELECT hostname FROM machines")).scalars())
        labels = set(connection.execute(sqlalchemy.text("SELECT plan_label FROM results")).scalars())
        messages = set(connection.execute(sqlalchemy.text(
            "SELECT failure_message FROM results WHERE failure_message IS NOT NULL")).scalars())
    engine.dispose()
    assert hostnames == {f"{text}{index}" for index, text in enumerate(HOSTILE)}
    assert labels == set(HOSTILE) and messages == {f"failure: {text}" for text in HOSTILE}
    for run in runs:
        read = client.get(f"/api/v1/runs/{run.run_id}").json()["run"]
        assert read["machine"] == run.machine.model_dump(mode="json") and read["rows"][0]["warnings"][0]["message"] == run.rows[0].warnings[0].message
    assert count(server_database, "runs") == len(HOSTILE)  # the DROP TABLE string did nothing


def test_an_unknown_or_hostile_workload_is_refused(client, token, server_database):
    for text in HOSTILE:
        data = json.loads(body(sample_runs.standard_run()))
        data["rows"][0]["workload"] = text
        answer = client.post("/api/v1/runs", content=json.dumps(data), headers=bearer(token))
        assert answer.status_code == 422 and "unknown workload" in answer.json()["detail"]
    assert client.get("/leaderboard/<script>alert(1)<%2Fscript>").status_code == 404
    assert "<script>alert(1)" not in client.get("/leaderboard/%3Cscript%3Ealert(1)").text
    assert count(server_database, "runs") == 0


@pytest.mark.parametrize("field, value, message", [
    ("hostname", "h" * 256, "machine.hostname: 256 characters, at most 255 are stored"),
    ("hostname", "nul\x00byte", "machine.hostname: contains a NUL character"),
    ("hostname", 12345, "machine.hostname: Input should be a valid string"),
    ("cpu", "not a dict", "machine.cpu: Input should be a valid dictionary"),
    ("run_id", "../../etc/passwd", "run_id: '../../etc/passwd' is not a run id"),
    ("plan_label", "p" * 501, "rows.0.plan_label: 501 characters, at most 500 are stored"),
])
def test_strings_the_store_cannot_hold_are_refused(client, token, field, value, message):
    data = json.loads(body(sample_runs.standard_run()))
    if field == "run_id":
        data["run_id"] = value
    elif field == "plan_label":
        data["rows"][0]["plan_label"] = value
    else:
        data["machine"][field] = value
    answer = client.post("/api/v1/runs", content=json.dumps(data), headers=bearer(token))
    assert answer.status_code == 422 and message in answer.json()["detail"], answer.text


def test_very_long_strings_within_the_limits_are_shown_whole(client, token):
    run = sample_runs.standard_run(hostname="h" * 255)
    run.rows[3].failure.message = "x" * 100_000  # a Text column: any length
    assert client.post("/api/v1/runs", content=body(run), headers=bearer(token)).status_code == 201
    assert "x" * 100_000 in client.get(f"/runs/{run.run_id}").text
    assert "h" * 255 in client.get("/machines").text


def huge_integer_body() -> str:
    return body(sample_runs.standard_run()).decode().replace('"hostname":"bench-01"',
                                                              '"hostname":"bench-01","serial":' + "9" * 5000, 1)


def deeply_nested_body(levels: int = 300) -> str:
    data = json.loads(body(sample_runs.standard_run()))
    data["machine"]["extra"] = json.loads("[" * levels + "]" * levels)
    return json.dumps(data)


@pytest.mark.parametrize("content, message", [
    (huge_integer_body, "integers in a results file are at most 9223372036854775807"),
    (deeply_nested_body, "machine.extra.0...: nested more than 32 levels deep"),
])
def test_huge_integers_and_deep_nesting_are_one_line_refusals(client, token, server_database, content, message):
    answer = client.post("/api/v1/runs", content=content(), headers=bearer(token))
    assert answer.status_code == 422 and message in answer.json()["detail"], answer.text
    assert count(server_database, "runs") == 0
