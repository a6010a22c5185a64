"""The history: save runs as they go, read them back, list them, find one by a short name.

Every write is its own short transaction, so a crash or Ctrl-C loses at most the row being written and two
runs can write to one database at once.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from typing import Literal

import psutil
import sqlalchemy
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, selectinload

from batchmark.machine import Fingerprint
from batchmark.results import ResultsFile, Row
from batchmark.store import convert
from batchmark.store.database import StoreError, create_engine, describe, explain, resolve_url
from batchmark.store.schema import upgrade
from batchmark.store.tables import Machine, Result, Run, Sample, Submission

LATEST = re.compile(r"^latest(?:~(\d+))?$")  # latest, latest~1 (the one before), ...

# How a run ended. interrupted: Ctrl-C or SIGTERM, its rows so far kept; running: its process still writes it;
# unfinished: no end recorded and its process gone (killed, or the machine went down); elsewhere: no end recorded
# yet, by a process on another machine, which this one cannot check.
RunState = Literal["finished", "interrupted", "running", "unfinished", "elsewhere"]


@dataclass(frozen=True)
class StoredRun:
    """One line of `batchmark history`."""

    run_id: str
    started_at: str
    finished_at: str | None
    interrupted: bool
    state: RunState
    stopped_by: str | None  # an interrupted run's reason, as its interrupted row says it: "stopped by SIGTERM"
    profile: str
    batchmark_version: str
    command: list[str]
    hostname: str
    cpu_model: str
    gpus: str
    rows: int
    failed: int
    workloads: list[str]
    frameworks: list[str]


class History:
    def __init__(self, engine: sqlalchemy.Engine):
        self.engine = engine
        self.location = describe(engine.url)

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # Writing --------------------------------------------------------------------------------------------

    def start_run(self, results: ResultsFile) -> None:
        """The run's header and its machine, before any row; this process is recorded as the one writing it."""
        try:
            with self._session() as session, session.begin():
                run = convert.new_run(results, self._machine(session, results.machine))
                run.writer_pid, run.writer_started = os.getpid(), psutil.Process().create_time()
                session.add(run)
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    def add_row(self, run_id: str, position: int, row: Row) -> None:
        try:
            with self._session() as session, session.begin():
                run_pk = session.scalar(select(Run.id).where(Run.run_id == run_id))
                if run_pk is None:
                    raise StoreError(f"{self.location}: run {run_id} is not in the history")
                result = convert.new_result(row, position)
                result.run_pk = run_pk
                session.add(result)
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    def finish_run(self, results: ResultsFile) -> None:
        try:
            with self._session() as session, session.begin():
                run = session.scalars(select(Run).where(Run.run_id == results.run_id)).one()
                run.finished_at = convert.parse_time(results.finished_at)
                run.interrupted = results.interrupted
                for key, value in convert.run_extras(results).items():
                    setattr(run, key, value)
                for result in run.results:  # a later plan name may have joined a row ("accelerated = baseline")
                    if result.position < len(results.rows):
                        row = results.rows[result.position]
                        result.also_labels, result.notes = list(row.also_labels), list(row.notes)
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    def import_run(self, results: ResultsFile, submission: Submission | None = None) -> bool:
        """The whole run in one transaction; False when a run of that id is already there (nothing changes).

        A leaderboard server passes the `submission` that records who uploaded the run, written with it."""
        try:
            with self._session() as session, session.begin():
                if session.scalar(select(Run.id).where(Run.run_id == results.run_id)) is not None:
                    return False
                owner = submission.token_id if submission is not None else None
                run = convert.new_run(results, self._machine(session, results.machine, owner))
                session.add(run)
                session.flush()  # the run's id, for its rows
                self._insert_rows(session, run, results.rows)
                if submission is not None:
                    submission.run = run
                    session.add(submission)
            return True
        except IntegrityError:
            return False  # the same run imported by another process at the same moment
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    @staticmethod
    def _insert_rows(session: Session, run: Run, rows: list[Row]) -> None:
        """A run's rows and their samples as two bulk inserts, not an object each: the ORM's unit of work for a
        20-row run cost a leaderboard submission 12.7 ms of CPU on PostgreSQL, more than all its checks."""
        converted = [convert.result_values(row, position) for position, row in enumerate(rows)]
        if not converted:
            return
        ids = session.scalars(insert(Result).returning(Result.id, sort_by_parameter_order=True),
                              [{**values, "run_pk": run.id} for values, _ in converted]).all()
        samples = [{"result_id": result_id, "series": series, "packed": packed}
                   for result_id, (_, pairs) in zip(ids, converted) for series, packed in pairs]
        if samples:
            session.execute(insert(Sample), samples)

    def _machine(self, session: Session, fingerprint: Fingerprint, owner_token_id: int | None = None) -> Machine:
        """The machine of this fingerprint. A leaderboard server names the submitting token: a machine belongs to
        the token that first submitted it, and another token's runs of the same hardware get a machine of their
        own (so nobody can post under, or displace, another's machine)."""
        machine = convert.new_machine(fingerprint)
        machine.owner_token_id = owner_token_id
        for _ in range(3):  # again when another token owns it, or another process inserted it meanwhile
            existing = session.scalars(select(Machine).where(Machine.identity == machine.identity)).first()
            if existing is not None and existing.owner_token_id in (None, owner_token_id):
                existing.owner_token_id = existing.owner_token_id or owner_token_id
                return existing
            if existing is not None:
                machine.identity = convert.owned_identity(existing.identity, owner_token_id)
                continue
            try:
                with session.begin_nested():  # PostgreSQL: another run may insert the same machine meanwhile
                    session.add(machine)
                return machine
            except IntegrityError:
                continue
        return session.scalars(select(Machine).where(Machine.identity == machine.identity)).one()

    # Reading --------------------------------------------------------------------------------------------

    def load(self, run_id: str) -> ResultsFile:
        try:
            with self._session() as session:
                run = session.scalars(
                    select(Run).where(Run.run_id == run_id)
                    .options(selectinload(Run.results).selectinload(Result.samples))
                ).first()
                if run is None:
                    raise StoreError(f"no run {run_id!r} in {self.location}")
                return convert.results_of(run)
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    def resolve(self, reference: str) -> str:
        """A run id from what a user typed: the full id, a unique prefix, `latest` or `latest~N`."""
        try:
            with self._session() as session:
                latest = LATEST.match(reference)
                if latest:
                    back = int(latest.group(1) or 0)
                    run_id = session.scalar(select(Run.run_id).order_by(Run.started_at.desc(), Run.id.desc())
                                            .offset(back).limit(1))
                    if run_id is None:
                        count = session.scalar(select(func.count(Run.id)))
                        raise StoreError(f"{reference}: the history in {self.location} holds {count} run(s)")
                    return run_id
                matches = session.scalars(select(Run.run_id).where(Run.run_id.startswith(reference, autoescape=True))
                                          .limit(6)).all()
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None
        if reference in matches:
            return reference
        if not matches:
            raise StoreError(f"no run {reference!r} in {self.location}; `batchmark history` lists them "
                             f"(or use latest, latest~1)")
        if len(matches) > 1:
            raise StoreError(f"run {reference!r} is ambiguous: it starts {', '.join(matches[:5])}"
                             f"{' ...' if len(matches) > 5 else ''}; type more of it")
        return matches[0]

    def runs(self, workload: str | None = None, machine: str | None = None, limit: int | None = None) -> list[StoredRun]:
        """Newest first. `machine` matches a hostname or CPU model by substring; `workload` by name."""
        query = select(Run).join(Run.machine).options(selectinload(Run.results), selectinload(Run.machine))
        if workload:
            query = query.where(Run.results.any(Result.workload == workload))
        if machine:
            pattern = f"%{machine.lower()}%"
            query = query.where(func.lower(Machine.hostname).like(pattern) | func.lower(Machine.cpu_model).like(pattern))
        query = query.order_by(Run.started_at.desc(), Run.id.desc())
        if limit:
            query = query.limit(limit)
        try:
            with self._session() as session:
                return [_summary(run) for run in session.scalars(query).unique()]
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    def state(self, run_id: str) -> RunState:
        try:
            with self._session() as session:
                run = session.scalars(select(Run).where(Run.run_id == run_id).options(selectinload(Run.machine))).one()
                return run_state(run)
        except SQLAlchemyError as error:
            raise explain(error, self.engine.url) from None

    def close(self) -> None:
        self.engine.dispose()


def run_state(run: Run) -> RunState:
    if run.finished_at is not None:
        return "interrupted" if run.interrupted else "finished"
    if run.writer_pid is None:  # imported from a results file that has no end: its run was killed
        return "unfinished"
    if run.machine.hostname != socket.gethostname():
        return "elsewhere"
    try:  # the same pid and start time: a pid is reused by unrelated processes once its owner is gone
        started = psutil.Process(run.writer_pid).create_time()
        return "running" if abs(started - (run.writer_started or 0)) < 0.01 else "unfinished"
    except psutil.Error:
        return "unfinished"


def _summary(run: Run) -> StoredRun:
    return StoredRun(
        run_id=run.run_id, started_at=convert.format_time(run.started_at),
        finished_at=convert.format_time(run.finished_at), interrupted=run.interrupted, state=run_state(run),
        stopped_by=next((result.failure_message for result in run.results if result.failure_kind == "interrupted"),
                        None),
        profile=run.profile,
        batchmark_version=run.batchmark_version, command=run.command, hostname=run.machine.hostname,
        cpu_model=run.machine.cpu_model, gpus=run.machine.gpus, rows=len(run.results),
        failed=sum(result.status == "failed" for result in run.results),
        workloads=list(dict.fromkeys(result.workload for result in run.results)),
        frameworks=list(dict.fromkeys(result.framework for result in run.results)),
    )


def open_history(database: str | None = None) -> History:
    """Open (creating or upgrading) the history named by `--db`, BATCHMARK_DB or the default."""
    url = resolve_url(database)
    engine = create_engine(url)
    try:
        upgrade(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        raise explain(error, url) from None
    except StoreError:
        engine.dispose()
        raise
    return History(engine)


class HistoryRecorder:
    """Keeps a run in the history as it goes (a runner Recorder). A failed write is reported once and the
    run goes on: the results JSON still holds every row."""

    def __init__(self, history: History, on_error):
        self.history = history
        self.on_error = on_error
        self.broken = False
        self.error: StoreError | None = None  # why it broke

    def _guard(self, write) -> None:
        if self.broken:
            return
        try:
            write()
        except StoreError as error:
            self.broken, self.error = True, error
            self.on_error(error)

    def started(self, results: ResultsFile) -> None:
        self._guard(lambda: self.history.start_run(results))

    def row_finished(self, results: ResultsFile, row: Row) -> None:
        self._guard(lambda: self.history.add_row(results.run_id, len(results.rows) - 1, row))

    def finished(self, results: ResultsFile) -> None:
        self._guard(lambda: self.history.finish_run(results))
