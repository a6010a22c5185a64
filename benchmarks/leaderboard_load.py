"""A small load test of the leaderboard server on loopback: concurrent uploads, then concurrent reads.

Starts `batchmark serve` (uvicorn, one process) on 127.0.0.1 with a fresh database, makes upload tokens,
submits SUBMITS distinct runs at once (each a standard-sized run: 20 rows of 12 timed steps each, ~32 KB),
then makes READS page and JSON reads at once, CONCURRENCY at a time. It then checks, with plain SQL, that
every run was stored exactly once, and prints throughput, latency (median, p95) and errors per phase.

The server's rate limit (60 submissions per token per hour by default) is left as it is: the submissions
are spread over TOKENS tokens (default 5, so 10 each).

Run: .venv/bin/python benchmarks/leaderboard_load.py [--postgres] [--submits 50] [--reads 500]
  --postgres makes a fresh database on the local PostgreSQL server (BATCHMARK_TEST_POSTGRES, as the tests)
  and drops it afterwards; without it, a SQLite file in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import sqlalchemy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from batchmark.plans import Plan  # noqa: E402
from batchmark.engine.stats import summarize  # noqa: E402
from batchmark.results import ResultsFile, Row, WorkerOutput  # noqa: E402
from batchmark.store import open_history  # noqa: E402
from batchmark.store.database import resolve_url  # noqa: E402
from batchmark.store.tokens import create_token  # noqa: E402
from batchmark.workloads.registry import get_workload, workload_names  # noqa: E402

POSTGRES_ADMIN = os.environ.get("BATCHMARK_TEST_POSTGRES", "postgresql+psycopg://root@/postgres?host=/var/run/postgresql")
TRAIN_FLOPS = {"resnet50v2_finetune": 20.65e9, "mobilenetv3": 1.29e9, "densenet121": 16.77e9, "cyclegan": 329.0e9,
               "style_transfer": 151.1e9}


def make_run(index: int, rng: np.random.Generator) -> ResultsFile:
    """One machine's standard suite: 5 workloads × torch and tensorflow × baseline and accelerated."""
    speed = float(rng.uniform(0.05, 3.0))  # from a GPU workstation to an old laptop
    started = dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=index)
    rows = []
    for workload in workload_names():
        spec = get_workload(workload)
        for framework in ("torch", "tensorflow"):
            for label in ("baseline", "accelerated"):
                plan = Plan(framework=framework, channels_last=framework != "torch" or label == "accelerated")
                base = TRAIN_FLOPS.get(workload, 10e9) * spec.batch_size / 60e9 * speed
                steps = [float(step) for step in base * rng.lognormal(0, 0.04, size=12)]
                statistics_ = summarize(steps)
                measured = WorkerOutput(setup_seconds=2.0, warmup_seconds=[steps[0] * 3], step_seconds=steps,
                                        losses=[2.3] * len(steps), peak_memory_bytes=3 * 2**30,
                                        memory_kind="process peak RSS", forward_flops_per_sample=None,
                                        train_flops_per_sample=TRAIN_FLOPS.get(workload), device_name="load-test cpu",
                                        framework_version="2.13.0", threads=8)
                rows.append(Row(workload=workload, framework=framework, plan_label=label, plan=plan,
                                batch_size=spec.batch_size, image_size=spec.image_size, status="ok",
                                measured=measured, statistics=statistics_,
                                samples_per_second=spec.batch_size / statistics_.median))
    return ResultsFile(batchmark_version="0.1.0", run_id=f"{started:%Y%m%dT%H%M%SZ}-load{index:04d}",
                       command=["batchmark", "run"], profile="standard", started_at=started.isoformat(),
                       finished_at=(started + dt.timedelta(minutes=30)).isoformat(),
                       machine={"hostname": f"load-machine-{index % 20:02d}",
                                "cpu": {"model": f"Load Test CPU {index % 20}", "arch": "x86_64", "flags": ["avx2"],
                                        "physical_cores": 8, "logical_cores": 16, "usable_cores": 16},
                                "memory_bytes": 32 * 2**30, "gpus": [], "os": {"system": "Linux", "release": "6.1"},
                                "python": "3.11.7", "frameworks": {"torch": "2.13.0"}, "batchmark": "0.1.0"},
                       rows=rows)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(database: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "batchmark.cli", "serve", "--db", database, "--port", str(port),
                                "--log-level", "warning"], start_new_session=True,
                               env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/runs", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(f"batchmark serve did not answer on {url} within 60 s")


async def timed(client: httpx.AsyncClient, limiter: asyncio.Semaphore, method: str, path: str, **options):
    async with limiter:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **options)
            status = response.status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        return time.perf_counter() - started, status


def summary(name: str, results: list[tuple[float, object]], wall: float, ok: set[int]) -> str:
    latencies = sorted(latency for latency, _ in results)
    errors = [status for _, status in results if status not in ok]
    p95 = latencies[min(len(latencies) - 1, int(round(0.95 * (len(latencies) - 1))))]
    return (f"{name}: {len(results)} requests in {wall:.2f} s = {len(results) / wall:.1f} requests/s; latency median "
            f"{statistics.median(latencies) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms; errors: {len(errors)}"
            + (f" {sorted(map(str, errors))[:10]}" if errors else ""))


async def load(url: str, bodies: list[tuple[str, bytes]], tokens: list[str], reads: int, concurrency: int):
    limiter = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        submitted = await asyncio.gather(*(
            timed(client, limiter, "POST", "/api/v1/runs", content=payload,
                  headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}",
                           "Content-Type": "application/json"})
            for index, (_, payload) in enumerate(bodies)))
        submit_wall = time.perf_counter() - started
        machines = (await client.get("/api/v1/machines")).json()
        paths = ["/", "/leaderboard/mobilenetv3", "/api/v1/leaderboard/densenet121", "/machines", "/api/v1/runs",
                 f"/machines/{machines[0]['machine']}", f"/compare?a={machines[0]['machine']}&b={machines[1]['machine']}",
                 f"/api/v1/compare?a={machines[2]['machine']}&b={machines[3]['machine']}"]
        paths += [f"/runs/{run_id}" for run_id, _ in bodies[:3]] + [f"/api/v1/runs/{bodies[4][0]}"]
        started = time.perf_counter()
        read = await asyncio.gather(*(timed(client, limiter, "GET", paths[index % len(paths)]) for index in range(reads)))
        read_wall = time.perf_counter() - started
    return submitted, submit_wall, read, read_wall, len(paths)


def stored_once(database: str, run_ids: list[str]) -> tuple[int, int, int]:
    """(submissions stored, runs stored more than once, submitted runs missing), with plain SQL."""
    engine = sqlalchemy.create_engine(resolve_url(database))
    with engine.connect() as connection:
        submissions = connection.execute(sqlalchemy.text("SELECT count(*) FROM submissions")).scalar_one()
        stored = connection.execute(sqlalchemy.text(
            "SELECT r.run_id, count(*) FROM runs r JOIN submissions s ON s.run_pk = r.id GROUP BY r.run_id")).all()
    engine.dispose()
    counts = dict(stored)
    return submissions, sum(1 for value in counts.values() if value > 1), sum(1 for run_id in run_ids if run_id not in counts)


def fresh_postgres() -> tuple[str, callable]:
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"batchmark_load_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return sqlalchemy.make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a fresh database on the local PostgreSQL server")
    parser.add_argument("--submits", type=int, default=50)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--tokens", type=int, default=5)
    options = parser.parse_args()
    drop = None
    folder = tempfile.TemporaryDirectory()
    if options.postgres:
        database, drop = fresh_postgres()
    else:
        database = str(Path(folder.name) / "leaderboard.sqlite")
    history = open_history(database)
    tokens = [create_token(history, f"load-{index}")[1] for index in range(options.tokens)]
    history.close()
    rng = np.random.default_rng(0)
    runs = [make_run(index, rng) for index in range(options.submits)]
    bodies = [(run.run_id, run.model_dump_json().encode()) for run in runs]
    process, url = start_server(database)
    try:
        submitted, submit_wall, read, read_wall, distinct = asyncio.run(
            load(url, bodies, tokens, options.reads, options.concurrency))
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    backend = "PostgreSQL" if options.postgres else "SQLite"
    print(f"leaderboard load test on {backend}, one uvicorn process on 127.0.0.1, {os.cpu_count()} CPU cores; "
          f"{options.submits} distinct runs of {len(runs[0].rows)} rows (~{len(bodies[0][1]) // 1024} KB each) over "
          f"{options.tokens} tokens (default rate limit kept), at most {options.concurrency} requests at once")
    print(summary("submits", submitted, submit_wall, ok={201}))
    print(summary(f"reads ({distinct} distinct pages and API calls)", read, read_wall, ok={200}))
    submissions, duplicated, missing = stored_once(database, [run_id for run_id, _ in bodies])
    print(f"stored: {submissions} submissions for {options.submits} runs sent; stored twice: {duplicated}; "
          f"missing: {missing}")
    if drop:
        drop()
    failed = (submissions != options.submits or duplicated or missing
              or any(status != 201 for _, status in submitted) or any(status != 200 for _, status in read))
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
