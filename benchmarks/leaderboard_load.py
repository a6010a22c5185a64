"""A load test of the leaderboard server on loopback: concurrent uploads, then concurrent reads, before and after.

For each code tree (the working tree, and with `--tree REF` an earlier commit beside it) and each database
(a SQLite file, and a fresh database on the local PostgreSQL server when one answers), it starts
`batchmark serve` from that tree on 127.0.0.1, makes upload tokens with that tree's own `batchmark token
create` (so the schema is that tree's), submits SUBMITS distinct runs at once (each a standard suite: 20 rows
of 12 timed steps, ~32 KB, made by that tree's own results code), then reads 12 pages and JSON answers in turn,
CONCURRENCY at a time, for READ_SECONDS with wrk (a C load generator: `apt-get install wrk`) or, where wrk is
missing, READS reads with Python's httpx, which needs a core of its own at a few hundred reads a second and so
measures itself as much as the server on 2 cores. It checks with plain SQL that every run was stored exactly once, and prints one table:
reads/s, read latency p95, submits/s and lost submissions, per tree and database.

The server's rate limit (60 submissions per token per hour by default) is left as it is: the submissions are
spread over enough tokens. A tree whose `serve` has `--workers` gets WORKERS processes; an older one runs one.

Run: .venv/bin/python benchmarks/leaderboard_load.py [--tree REF] [--submits 200] [--read-seconds 10] [--workers 2]
Nothing else may run on the machine meanwhile: on 2 cores a second process makes the numbers garbage.
The goal (issue 16) on a 2-core machine with this load generator beside the server: >= 300 reads/s with
p95 <= 100 ms, >= 30 submits/s, nothing lost, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import sqlalchemy

REPO = Path(__file__).resolve().parents[1]
POSTGRES_ADMIN = os.environ.get("BATCHMARK_TEST_POSTGRES", "postgresql+psycopg://root@/postgres?host=/var/run/postgresql")
TRAIN_FLOPS = {"resnet50v2_finetune": 20.65e9, "mobilenetv3": 1.29e9, "densenet121": 16.77e9, "cyclegan": 329.0e9,
               "style_transfer": 151.1e9}
SUBMITS_PER_TOKEN = 50  # under the default limit of 60 an hour


# Runs, made by the tree under test (this file is run again as `--make-runs` with that tree on PYTHONPATH) -----

def make_run(index: int, rng) -> dict:
    """One machine's standard suite: the seed workloads × torch and tensorflow × baseline and accelerated."""
    from batchmark.engine.stats import summarize
    from batchmark.plans import Plan
    from batchmark.results import ResultsFile, Row, WorkerOutput
    from batchmark.workloads.registry import get_workload

    speed = float(rng.uniform(0.5, 3.0))  # a fast desktop CPU to an old laptop: plausible for a 16-core CPU
    started = dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc) + dt.timedelta(minutes=index)
    rows = []
    for workload in TRAIN_FLOPS:
        spec = get_workload(workload)
        for framework in ("torch", "tensorflow"):
            for label in ("baseline", "accelerated"):
                plan = Plan(framework=framework, channels_last=framework != "torch" or label == "accelerated")
                base = TRAIN_FLOPS[workload] * spec.batch_size / 60e9 * speed
                steps = [float(step) for step in base * rng.lognormal(0, 0.04, size=12)]
                statistics_ = summarize(steps)
                measured = WorkerOutput(setup_seconds=2.0, warmup_seconds=[steps[0] * 3], step_seconds=steps,
                                        losses=[2.3] * len(steps), peak_memory_bytes=3 * 2**30,
                                        memory_kind="process peak RSS", forward_flops_per_sample=None,
                                        train_flops_per_sample=TRAIN_FLOPS[workload], device_name="load-test cpu",
                                        framework_version="2.13.0", threads=8)
                rows.append(Row(workload=workload, framework=framework, plan_label=label, plan=plan,
                                batch_size=spec.batch_size, image_size=spec.image_size, status="ok",
                                measured=measured, statistics=statistics_,
                                samples_per_second=spec.batch_size / statistics_.median))
    run = ResultsFile(batchmark_version="0.1.0", run_id=f"{started:%Y%m%dT%H%M%SZ}-load{index:04d}",
                      command=["batchmark", "run"], profile="standard", started_at=started.isoformat(),
                      finished_at=(started + dt.timedelta(minutes=30)).isoformat(),
                      machine={"hostname": f"load-machine-{index % 20:02d}",
                               "cpu": {"model": f"Load Test CPU {index % 20}", "arch": "x86_64", "flags": ["avx2", "fma"],
                                       "physical_cores": 8, "logical_cores": 16, "usable_cores": 16},
                               "memory_bytes": 32 * 2**30, "gpus": [], "os": {"system": "Linux", "release": "6.1"},
                               "python": "3.11.7", "frameworks": {"torch": "2.13.0"}, "batchmark": "0.1.0"},
                      rows=rows)
    return json.loads(run.model_dump_json())


def make_runs(count: int, output: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    output.write_text(json.dumps([make_run(index, rng) for index in range(count)]))


# One server, loaded ------------------------------------------------------------------------------------------

@dataclass
class Measured:
    tree: str
    database: str
    workers: int
    reads_per_second: float
    read_p95_ms: float
    paced_reads_per_second: float | None  # reads arriving at about --rate a second (wrk only)
    paced_p95_ms: float | None
    read_errors: int
    submits_per_second: float
    submit_errors: int
    lost: int  # runs sent and not stored, plus runs stored twice


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


SERVER_SPEEDUPS = ("uvloop", "httptools")  # used by uvicorn when importable; in the [server] extra since bba4f30


def tree_env(tree: Path) -> dict:
    shadow = tree / "shadow"  # see checkout(): packages the tree's own install would not have
    paths = [str(tree / "src")] + ([str(shadow)] if shadow.is_dir() else [])
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def batchmark(tree: Path, *arguments: str) -> str:
    done = subprocess.run([sys.executable, "-m", "batchmark.cli", *arguments], env=tree_env(tree),
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"batchmark {' '.join(arguments[:2])} failed in {tree}: {done.stderr.strip()}")
    return done.stdout


def has_workers_option(tree: Path) -> bool:
    return "--workers" in batchmark(tree, "serve", "--help")


def start_server(tree: Path, database: str, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "batchmark.cli", "serve", "--db", database, "--port", str(port),
               "--log-level", "warning"] + (["--workers", str(workers)] if workers > 1 else [])
    process = subprocess.Popen(command, start_new_session=True, env=tree_env(tree))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/api/v1/runs", timeout=2).status_code == 200:
                time.sleep(2 if workers > 1 else 0)  # the other workers finish starting
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit(f"batchmark serve from {tree} did not answer on {url} within 90 s")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def timed(client: httpx.AsyncClient, limiter: asyncio.Semaphore, method: str, path: str, **options):
    async with limiter:
        started = time.perf_counter()
        try:
            response = await client.request(method, path, **options)
            status = response.status_code
        except httpx.HTTPError as error:
            status = type(error).__name__
        return time.perf_counter() - started, status


async def submit_all(url: str, bodies: list[bytes], tokens: list[str], concurrency: int):
    """Every run POSTed at once (CONCURRENCY in flight), each body under its token; then the read paths."""
    limiter = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        submitted = await asyncio.gather(*(
            timed(client, limiter, "POST", "/api/v1/runs", content=payload,
                  headers={"Authorization": f"Bearer {tokens[index // SUBMITS_PER_TOKEN]}",
                           "Content-Type": "application/json"})
            for index, payload in enumerate(bodies)))
        submit_wall = time.perf_counter() - started
        machines = (await client.get("/api/v1/machines")).json()
    keys = [machine["machine"] for machine in machines] * 4  # enough even when few machines were stored
    run_ids = [json.loads(payload)["run_id"] for payload in bodies[:5]]
    paths = ["/", "/leaderboard/mobilenetv3", "/api/v1/leaderboard/densenet121", "/machines", "/api/v1/runs",
             f"/machines/{keys[0]}", f"/compare?a={keys[0]}&b={keys[1]}", f"/api/v1/compare?a={keys[2]}&b={keys[3]}"]
    paths += [f"/runs/{run_id}" for run_id in run_ids[:3]] + [f"/api/v1/runs/{run_ids[4]}"]
    return submitted, submit_wall, paths


async def read_with_httpx(url: str, paths: list[str], reads: int, concurrency: int) -> tuple[float, float, list]:
    """READS reads by a Python client: (reads/s, p95 seconds, failed statuses). It needs about a core itself at a
    few hundred reads a second, so on 2 cores it measures itself as much as the server: wrk is preferred."""
    limiter = asyncio.Semaphore(concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        read = await asyncio.gather(*(timed(client, limiter, "GET", paths[index % len(paths)]) for index in range(reads)))
        wall = time.perf_counter() - started
    return len(read) / wall, p95([latency for latency, _ in read]), [status for _, status in read if status != 200]


WRK_SCRIPT = """
paths = {%s}
pause = %d
counter = 0
if pause > 0 then
  delay = function() return pause end
end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format("batchmark-load %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(95), errors.status + errors.connect + errors.read + errors.write + errors.timeout))
end
"""


def read_with_wrk(url: str, paths: list[str], seconds: float, concurrency: int,
                  rate: float | None = None) -> tuple[float, float, list]:
    """Reads for SECONDS by wrk (one thread, CONCURRENCY connections, the paths in turn): (reads/s, p95 seconds,
    failures). A C load generator takes a small share of a core, so the server, not the client, is measured.
    Without `rate` each connection sends its next read as soon as the last is answered: the server's most reads a
    second, every request queued behind others (its p95 is a queue's). With `rate`, each connection waits
    CONCURRENCY / RATE seconds after each answer, so about RATE reads a second arrive: the latency a reader sees
    while the server serves that many."""
    pause_ms = round(concurrency / rate * 1000) if rate else 0
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (", ".join(json.dumps(path) for path in paths), pause_ms))
    try:
        done = subprocess.run(["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--timeout", "30s", "-s",
                               script.name, url], capture_output=True, text=True, check=True)
    finally:
        os.unlink(script.name)
    line = next((line for line in done.stdout.splitlines() if line.startswith("batchmark-load ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no summary: {done.stdout.strip()} {done.stderr.strip()}")
    requests, duration_us, p95_us, errors = map(int, line.split()[1:])
    return requests / (duration_us / 1e6), p95_us / 1e6, ["error"] * errors


def stored(database: str, run_ids: list[str]) -> int:
    """Runs lost (sent, not stored) or stored more than once, with plain SQL."""
    url = sqlalchemy.make_url(database) if "://" in database else sqlalchemy.URL.create("sqlite", database=database)
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        counts = dict(connection.execute(sqlalchemy.text(
            "SELECT r.run_id, count(*) FROM runs r JOIN submissions s ON s.run_pk = r.id GROUP BY r.run_id")).all())
    engine.dispose()
    return sum(1 for run_id in run_ids if counts.get(run_id) != 1)


def p95(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure(tree: Path, label: str, database: str, backend: str, runs_file: Path, options) -> Measured:
    tokens = [batchmark(tree, "token", "create", f"load-{index}", "--db", database).strip()
              for index in range(math.ceil(options.submits / SUBMITS_PER_TOKEN))]
    bodies = [json.dumps(run).encode() for run in json.loads(runs_file.read_text())]
    workers = options.workers if has_workers_option(tree) else 1
    process, url = start_server(tree, database, workers)
    try:
        watch = PostgresActivity(database, f"{label} on {backend}") if backend == "PostgreSQL" else None
        submitted, submit_wall, paths = asyncio.run(submit_all(url, bodies, tokens, options.concurrency))
        if watch:
            watch.phase("submissions", submit_wall)
        paced_per_second = paced_p95 = None
        if options.reader == "wrk":
            reads_per_second, read_p95, read_errors = read_with_wrk(url, paths, options.read_seconds,
                                                                    options.concurrency)
            if watch:
                watch.phase("saturated reads", options.read_seconds)
            paced_per_second, paced_p95, paced_errors = read_with_wrk(url, paths, options.read_seconds,
                                                                      options.concurrency, options.rate)
            if watch:
                watch.phase("paced reads", options.read_seconds)
            read_errors += paced_errors
            paced_p95 *= 1000
        else:
            reads_per_second, read_p95, read_errors = asyncio.run(
                read_with_httpx(url, paths, options.reads, options.concurrency))
    finally:
        stop_server(process)
    submit_errors = [status for _, status in submitted if status != 201]
    for name, errors in (("reads", read_errors), ("submits", submit_errors)):
        if errors:
            print(f"  {label} on {backend}: {len(errors)} {name} failed: {sorted(map(str, errors))[:5]}", file=sys.stderr)
    return Measured(label, backend, workers, reads_per_second, read_p95 * 1000, paced_per_second, paced_p95,
                    len(read_errors),
                    len(submitted) / submit_wall, len(submit_errors),
                    stored(database, [json.loads(body)["run_id"] for body in bodies]))


# Databases and trees -------------------------------------------------------------------------------------------

def postgres_reachable() -> bool:
    try:
        engine = sqlalchemy.create_engine(POSTGRES_ADMIN)
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001  (any driver or connection failure: no server here)
        return False


class PostgresActivity:
    """What PostgreSQL did on its own during each phase, printed to stderr: the checkpoints (timed or requested)
    with their milliseconds of writes and syncs, and the autovacuum and autoanalyze runs on the test's database.
    These share the one disk and the two cores with the server, and are what a run cannot control."""

    def __init__(self, database: str, label: str):
        self.database, self.label = database, label
        self.last = self.sample()

    def sample(self) -> tuple[int, float, int, int]:
        engine = sqlalchemy.create_engine(self.database)
        with engine.connect() as connection:
            checkpoints, milliseconds = connection.execute(sqlalchemy.text(
                "SELECT checkpoints_timed + checkpoints_req, checkpoint_write_time + checkpoint_sync_time "
                "FROM pg_stat_bgwriter")).one()
            autovacuums = connection.execute(sqlalchemy.text(
                "SELECT coalesce(sum(autovacuum_count + autoanalyze_count), 0) FROM pg_stat_user_tables")).scalar()
            sessions = connection.execute(sqlalchemy.text(
                "SELECT sessions FROM pg_stat_database WHERE datname = current_database()")).scalar()
        engine.dispose()
        return checkpoints, milliseconds, autovacuums, sessions

    def phase(self, name: str, seconds: float) -> None:
        now = self.sample()
        checkpoints, milliseconds, autovacuums, sessions = (after - before for after, before in zip(now, self.last))
        self.last = now
        print(f"  {self.label}, {name} ({seconds:.1f} s): {checkpoints} checkpoint(s) ({milliseconds:.0f} ms of "
              f"writes and syncs), {autovacuums} autovacuum/autoanalyze run(s), {sessions - 1} connection(s) opened",
              file=sys.stderr)


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


def checkout(ref: str, folder: Path) -> Path:
    """The commit's src/ in a folder of its own (git archive: the repository's work tree and index are left alone)."""
    folder.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", ref, "src"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    # The server as that commit installed it: uvicorn uses uvloop and httptools whenever they import, so where the
    # commit's [server] extra did not ask for them they are hidden from it.
    pyproject = subprocess.run(["git", "-C", str(REPO), "show", f"{ref}:pyproject.toml"], capture_output=True,
                               text=True, check=True).stdout
    for name in SERVER_SPEEDUPS:
        if name not in pyproject:
            (folder / "shadow").mkdir(exist_ok=True)
            stub = f"raise ImportError('{name} is not in the extras of {ref}')\n"
            (folder / "shadow" / f"{name}.py").write_text(stub)
    return folder


def table(measured: list[Measured]) -> str:
    lines = [f"{'tree':<22} {'database':<10} {'workers':>7} {'reads/s':>8} {'p95 ms':>7} {'paced/s':>8} "
             f"{'p95 ms':>7} {'submits/s':>9} {'lost':>5} {'errors':>7}"]
    for entry in measured:
        paced = (f"{entry.paced_reads_per_second:>8.1f} {entry.paced_p95_ms:>7.0f}"
                 if entry.paced_reads_per_second is not None else f"{'-':>8} {'-':>7}")
        lines.append(f"{entry.tree:<22} {entry.database:<10} {entry.workers:>7} {entry.reads_per_second:>8.1f} "
                     f"{entry.read_p95_ms:>7.0f} {paced} {entry.submits_per_second:>9.1f} {entry.lost:>5} "
                     f"{entry.read_errors + entry.submit_errors:>7}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", help="an earlier commit to measure beside the working tree")
    parser.add_argument("--submits", type=int, default=200)
    parser.add_argument("--reads", type=int, default=3000, help="reads made by the Python reader (--reader httpx)")
    parser.add_argument("--read-seconds", type=float, default=10, help="how long wrk reads (--reader wrk)")
    parser.add_argument("--reader", choices=("wrk", "httpx"), default="wrk" if shutil.which("wrk") else "httpx",
                        help="the read load generator: wrk (apt-get install wrk) where installed, else Python's httpx")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=300,
                        help="reads a second offered in the paced read phase (wrk only): the goal's 300")
    parser.add_argument("--workers", type=int, default=2, help="server processes, where the tree's serve has --workers")
    parser.add_argument("--databases", default="sqlite,postgresql",
                        help="which of sqlite,postgresql (PostgreSQL only where a server answers)")
    parser.add_argument("--make-runs", nargs=2, metavar=("COUNT", "FILE"), help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.make_runs:  # in a subprocess, with the tree under test on PYTHONPATH
        make_runs(int(options.make_runs[0]), Path(options.make_runs[1]))
        return
    backends = [name for name in options.databases.split(",") if name != "postgresql" or postgres_reachable()]
    measured = []
    with tempfile.TemporaryDirectory(prefix="batchmark-leaderboard-load-") as folder:
        trees = [(f"{options.tree} (--tree)", checkout(options.tree, Path(folder) / "tree"))] if options.tree else []
        trees.append(("working tree", REPO))
        for label, tree in trees:
            runs_file = Path(folder) / f"runs-{len(measured)}.json"
            subprocess.run([sys.executable, __file__, "--make-runs", str(options.submits), str(runs_file)],
                           env=tree_env(tree), check=True)
            for backend in backends:
                drop = None
                if backend == "postgresql":
                    database, drop = fresh_postgres()
                else:
                    database = str(Path(folder) / f"leaderboard-{len(measured)}.sqlite")
                try:
                    measured.append(measure(tree, label, database, "PostgreSQL" if drop else "SQLite", runs_file,
                                            options))
                finally:
                    if drop:
                        drop()
    reads = (f"{options.read_seconds:.0f} s of reads by wrk" if options.reader == "wrk"
             else f"{options.reads} reads by httpx")
    print(f"leaderboard load test on 127.0.0.1, {os.cpu_count()} CPU cores: {options.submits} distinct runs of 20 "
          f"rows submitted at once (httpx), then {reads} of 12 pages and API calls in turn, at most "
          f"{options.concurrency} requests at a time")
    print(table(measured))
    if options.reader == "wrk":
        print(f"reads/s and its p95: each connection reads again as soon as it is answered (the most the server "
              f"serves, every read queued); paced/s and its p95: about {options.rate:g} reads a second offered")
    print("goal: >= 300 reads/s with p95 <= 100 ms, >= 30 submits/s, 0 lost (lost: sent and not stored once)")
    raise SystemExit(1 if any(entry.lost or entry.read_errors or entry.submit_errors for entry in measured) else 0)


if __name__ == "__main__":
    main()
