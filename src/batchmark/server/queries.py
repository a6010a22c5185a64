"""What the server reads and writes: submitted runs, the best row per machine, machines, and pairs of them.

Only runs with a submission row are shown: a run imported into the same database by `batchmark import` is
not on the leaderboard. Every query is SQLAlchemy ORM with bound parameters. Reads go through `reading`, whose
transactions never wait for a writer; a list is cut into pages by the database (LIMIT, OFFSET), never here.
"""

from __future__ import annotations

import datetime as dt
import threading
from contextlib import nullcontext
from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, selectinload

from batchmark.results import Calibration, ResultsFile, apply_speedups
from batchmark.server import data_version  # noqa: F401  (its import makes each stored submission raise the version)
from batchmark.server.pagination import Page
from batchmark.server.schemas import LeaderboardEntry, MachineSummary, RunListing
from batchmark.store import History
from batchmark.store import convert
from batchmark.store.database import reader
from batchmark.store.tables import Machine, Result, Run, Submission
from batchmark.workloads.registry import workload_names

# One SQLite write at a time per server process. Threads that queue on SQLite's lock poll it, sleeping up to
# 100 ms between tries however soon it is free; on this lock they wake when it is. Other processes still queue
# on SQLite's busy timeout; PostgreSQL writes in parallel.
SQLITE_WRITES = threading.Lock()
MACHINE_KEY_LENGTH = 16  # of the machine's identity hash: what URLs name a machine by
MIN_MACHINE_KEY = 8


@dataclass(frozen=True)
class Filters:
    framework: str | None = None
    device: str | None = None
    precision: str | None = None
    include_unverified: bool = False


@dataclass(frozen=True)
class SubmitOutcome:
    stored: bool
    verified: bool
    reasons: list[str]
    conflict: str | None = None  # the same run id with other content, or already there without a submission


class Entry(LeaderboardEntry):
    """One leaderboard line (a machine's best row for a workload at one size), with the result it came from."""

    rank: int = 0  # set when ranked
    result_id: int


def machine_key(machine: Machine) -> str:
    return machine.identity[:MACHINE_KEY_LENGTH]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def reading(history: History) -> Session:
    """A session for reads: on SQLite it takes no lock, so a page never queues behind a submission."""
    return Session(reader(history.engine))


def one_writer(history: History):
    return SQLITE_WRITES if history.engine.dialect.name == "sqlite" else nullcontext()


def submit(history: History, results: ResultsFile, content_sha256: str, token_id: int,
           reasons: list[str]) -> SubmitOutcome:
    """Store the run with its submission, once: a resend of the same content is not stored again."""
    submission = Submission(token_id=token_id, submitted_at=now(), content_sha256=content_sha256,
                            verified=not reasons, reasons=reasons)
    with one_writer(history):
        stored = history.import_run(results, submission)
    if stored:
        return SubmitOutcome(True, not reasons, reasons)
    with reading(history) as session:
        existing = session.scalars(select(Submission).join(Submission.run)
                                   .where(Run.run_id == results.run_id)).first()
    if existing is None:
        return SubmitOutcome(False, False, [], conflict=f"run {results.run_id} is in this server's database "
                                                         f"already, imported there rather than submitted")
    if existing.content_sha256 != content_sha256:
        return SubmitOutcome(False, existing.verified, existing.reasons,
                             conflict=f"run {results.run_id} was submitted already with different content; a "
                                      f"run id names one run")
    return SubmitOutcome(False, existing.verified, existing.reasons)


def submitted_rows(filters: Filters, *columns):
    """Ok rows of submitted runs with their run, machine and submission (or `columns` of them), best (lowest
    median) first."""
    query = (select(*(columns or (Result, Run, Machine, Submission))).select_from(Result).join(Result.run)
             .join(Run.machine).join(Submission, Submission.run_pk == Run.id)
             .where(Result.status == "ok", Result.median.is_not(None), Result.samples_per_second.is_not(None)))
    for column, value in ((Result.framework, filters.framework), (Result.device, filters.device),
                          (Result.precision, filters.precision)):
        if value is not None:
            query = query.where(column == value)
    if not filters.include_unverified:
        query = query.where(Submission.verified.is_(True))
    return query.order_by(Result.median, Result.id)


def percent_of_peak(run: Run, result: Result) -> tuple[float | None, float | None]:
    """Achieved FLOP/s and % of the run's calibrated peak, as apply_peaks derives them for a loaded run."""
    if not result.train_flops_per_sample or not result.samples_per_second:
        return None, None
    achieved = result.train_flops_per_sample * result.samples_per_second
    peak = Calibration.model_validate(run.calibration).peak(result.device, result.precision) \
        if run.calibration else None
    if peak is None or peak.flops_per_second <= 0:
        return achieved, None
    return achieved, 100.0 * achieved / peak.flops_per_second


def entry(result: Result, run: Run, machine: Machine, submission: Submission) -> Entry:
    achieved, percent = percent_of_peak(run, result)
    return Entry(machine=machine_key(machine), hostname=machine.hostname, cpu_model=machine.cpu_model,
                 gpus=machine.gpus, run_id=run.run_id, verified=submission.verified, workload=result.workload,
                 framework=result.framework, plan_label=result.plan_label, plan=result.plan,
                 plan_source=result.plan_source, device=result.device,
                 precision=result.precision, batch_size=result.batch_size, image_size=result.image_size,
                 median=result.median, ci_low=result.ci_low, ci_high=result.ci_high, n=result.n,
                 samples_per_second=result.samples_per_second, achieved_flops_per_second=achieved,
                 percent_of_peak=percent, samples_per_joule=result.samples_per_joule, result_id=result.id)


def best_per_machine(history: History, filters: Filters, workload: str | None = None,
                     size: tuple[int, int] | None = None, machine_ids: list[int] | None = None,
                     page: Page | None = None) -> list[Entry]:
    """The lowest-median row per (machine, workload, batch size, image size), fastest first; with `page`, that
    page's entries (and one more, see Page.limit). The database picks each machine's best (a window function)
    and cuts the page, so a view loads only the rows it shows."""
    place = func.row_number().over(partition_by=(Run.machine_id, Result.workload, Result.batch_size,
                                                 Result.image_size), order_by=(Result.median, Result.id))
    candidates = submitted_rows(filters, Result.id, place.label("place"))
    if workload is not None:
        candidates = candidates.where(Result.workload == workload)
    if size is not None:
        candidates = candidates.where(Result.batch_size == size[0], Result.image_size == size[1])
    if machine_ids is not None:
        candidates = candidates.where(Run.machine_id.in_(machine_ids))
    ranked = candidates.order_by(None).subquery()
    query = (select(Result, Run, Machine, Submission).join(ranked, ranked.c.id == Result.id).join(Result.run)
             .join(Run.machine).join(Submission, Submission.run_pk == Run.id)
             .where(ranked.c.place == 1).order_by(Result.median, Result.id))
    if page is not None:
        query = query.limit(page.limit).offset(page.offset)
    with reading(history) as session:
        return [entry(*found) for found in session.execute(query)]


def sizes(history: History, workload: str, filters: Filters) -> list[tuple[int, int, int]]:
    """(batch size, image size, rows) measured for a workload, most rows first: a leaderboard per size."""
    query = submitted_rows(filters).where(Result.workload == workload).order_by(None).subquery()
    counted = (select(query.c.batch_size, query.c.image_size, func.count().label("rows"))
               .group_by(query.c.batch_size, query.c.image_size)
               .order_by(func.count().desc(), query.c.batch_size, query.c.image_size))
    with reading(history) as session:
        return [tuple(row) for row in session.execute(counted)]


def charted_runs(history: History, entries: list[Entry], label_by_machine: bool = False) -> list[ResultsFile]:
    """The entries as runs the report's charts draw: one per entry, or one per machine with its entries."""
    ids = [item.result_id for item in entries]
    with reading(history) as session:
        loaded = {result.id: result for result in session.scalars(
            select(Result).where(Result.id.in_(ids))
            .options(selectinload(Result.samples), selectinload(Result.run).selectinload(Run.machine)))}
        runs: dict[str, ResultsFile] = {}
        for item in entries:
            result = loaded[item.result_id]
            key = item.machine if label_by_machine else item.run_id
            if key not in runs:
                run = result.run
                runs[key] = ResultsFile(
                    schema_version=run.schema_version, batchmark_version=run.batchmark_version,
                    run_id=item.machine if label_by_machine else run.run_id, command=run.command,
                    profile=run.profile, started_at=convert.format_time(run.started_at),
                    machine=run.environment, rows=[])
            runs[key].rows.append(convert.row_of(result))
    return list(runs.values())


def first_seen(session: Session, column, run_pks: list[int]) -> dict[int, list[str]]:
    """Each run's distinct values of a results column, in the order its rows first show them."""
    query = (select(Result.run_pk, column, func.min(Result.position).label("first"))
             .where(Result.run_pk.in_(run_pks)).group_by(Result.run_pk, column).order_by(Result.run_pk, "first"))
    found: dict[int, list[str]] = {}
    for run_pk, value, _ in session.execute(query):
        found.setdefault(run_pk, []).append(value)
    return found


def listings(session: Session, pairs: list[tuple[Run, Submission]]) -> list[RunListing]:
    """Runs as lists show them. Their rows are counted and summarized by the database: a run of thousands of
    rows costs a list no more than one of twenty."""
    run_pks = [run.id for run, _ in pairs]
    counts = {run_pk: (rows, failed) for run_pk, rows, failed in session.execute(
        select(Result.run_pk, func.count(), func.coalesce(func.sum(case((Result.status == "failed", 1), else_=0)), 0))
        .where(Result.run_pk.in_(run_pks)).group_by(Result.run_pk))}
    workloads, frameworks = first_seen(session, Result.workload, run_pks), first_seen(session, Result.framework, run_pks)
    return [RunListing(run_id=run.run_id, machine=machine_key(run.machine), hostname=run.machine.hostname,
                       started_at=convert.format_time(run.started_at),
                       submitted_at=convert.format_time(submission.submitted_at), verified=submission.verified,
                       reasons=submission.reasons, profile=run.profile, rows=counts.get(run.id, (0, 0))[0],
                       failed=counts.get(run.id, (0, 0))[1], workloads=workloads.get(run.id, []),
                       frameworks=frameworks.get(run.id, []))
            for run, submission in pairs]


def submitted_runs(history: History, machine_id: int | None = None, limit: int = 50,
                   offset: int = 0) -> list[RunListing]:
    query = (select(Run, Submission).join(Submission, Submission.run_pk == Run.id)
             .options(selectinload(Run.machine))
             .order_by(Submission.submitted_at.desc(), Run.id.desc()).limit(limit).offset(offset))
    if machine_id is not None:
        query = query.where(Run.machine_id == machine_id)
    with reading(history) as session:
        return listings(session, [tuple(found) for found in session.execute(query)])


class MachineListing(MachineSummary):
    id: int  # the row's key, for queries; not shown


def machines(history: History, machine_id: int | None = None, page: Page | None = None) -> list[MachineListing]:
    """Machines with a submitted run, the most recently submitted first; with `page`, that page's (and one
    more, see Page.limit)."""
    query = (select(Machine, func.count(Run.id), func.max(Submission.submitted_at))
             .join(Run, Run.machine_id == Machine.id).join(Submission, Submission.run_pk == Run.id)
             .group_by(Machine.id).order_by(func.max(Submission.submitted_at).desc(), Machine.id))
    if machine_id is not None:
        query = query.where(Machine.id == machine_id)
    if page is not None:
        query = query.limit(page.limit).offset(page.offset)
    with reading(history) as session:
        return [MachineListing(machine=machine_key(machine), hostname=machine.hostname, cpu_model=machine.cpu_model,
                               gpus=machine.gpus, logical_cores=machine.logical_cores,
                               memory_bytes=machine.memory_bytes, runs=count, last_submitted_at=convert.format_time(last),
                               id=machine.id)
                for machine, count, last in session.execute(query)]


def find_machine(history: History, key: str) -> tuple[MachineListing, dict] | None:
    """A machine with a submitted run, by its key (a unique prefix of its identity hash), with the
    fingerprint of its latest submitted run; None when there is no such machine or the prefix is ambiguous."""
    if not MIN_MACHINE_KEY <= len(key) <= 64:
        return None
    submitted = select(Submission.run_pk)
    with reading(history) as session:
        found = session.scalars(select(Machine.id).where(Machine.identity.startswith(key, autoescape=True),
                                                         Machine.runs.any(Run.id.in_(submitted))).limit(2)).all()
        if len(found) != 1:
            return None
        fingerprint = session.scalars(select(Run.environment).where(Run.machine_id == found[0], Run.id.in_(submitted))
                                      .order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()
    [machine] = machines(history, found[0])
    return machine, fingerprint or {}


@dataclass(frozen=True)
class SubmittedRun:
    results: ResultsFile  # with its percent of peak and speedups derived; with a page, only that page's rows
    submission: Submission
    machine: Machine
    rows: int  # in the whole run
    first: int = 0  # the position of results.rows[0] in the run


def run_with_submission(history: History, run_id: str, page: Page | None = None) -> SubmittedRun | None:
    """A submitted run, loaded whole or only the rows of `page` (with their samples); None when no such run
    was submitted. A page's speedups are against the run's baselines, wherever they are in it."""
    rows = Run.results if page is None else Run.results.and_(Result.position >= page.offset,
                                                              Result.position < page.offset + page.size)
    with reading(history) as session:
        found = session.execute(select(Run, Submission, Machine).join(Submission, Submission.run_pk == Run.id)
                                .join(Run.machine).where(Run.run_id == run_id)
                                .options(selectinload(rows).selectinload(Result.samples))).first()
        if found is None:
            return None
        run, submission, machine = found
        results = convert.results_of(run)
        if page is None:
            return SubmittedRun(results, submission, machine, len(results.rows))
        total = session.scalar(select(func.count()).where(Result.run_pk == run.id))
        # The run's baselines, keyed as results.baseline_key keys them (a row kept before 0007 was one process).
        baselines = {(workload, framework, batch, image, world_size or 1): median
                     for workload, framework, batch, image, world_size, median
                     in session.execute(select(Result.workload, Result.framework, Result.batch_size,
                                               Result.image_size, Result.world_size, Result.median)
                                        .where(Result.run_pk == run.id, Result.status == "ok",
                                               Result.plan_label == "baseline"))}
    apply_speedups(results.rows, baselines)  # with baselines that may sit on another page
    return SubmittedRun(results, submission, machine, total, page.offset)


def workload_order(workload: str) -> int:
    names = workload_names()
    return names.index(workload) if workload in names else len(names)


def machines_per_workload(history: History, filters: Filters) -> dict[str, int]:
    rows = submitted_rows(filters).order_by(None).subquery()
    query = select(rows.c.workload, func.count(func.distinct(rows.c.machine_id))).group_by(rows.c.workload)
    with reading(history) as session:
        return dict(session.execute(query).all())


def compare_machines(history: History, a: MachineListing, b: MachineListing,
                     filters: Filters) -> list[tuple[Entry, Entry]]:
    """Each machine's best row on every (workload, batch size, image size) that both measured."""
    found: dict[tuple, dict[int, Entry]] = {}
    entries = best_per_machine(history, filters, machine_ids=[a.id, b.id])
    for entry in entries:
        found.setdefault((entry.workload, entry.batch_size, entry.image_size), {})[entry.machine] = entry
    pairs = [(both[a.machine], both[b.machine]) for both in found.values() if a.machine in both and b.machine in both]
    return sorted(pairs, key=lambda pair: (workload_order(pair[0].workload), -pair[0].batch_size,
                                           -pair[0].image_size))
