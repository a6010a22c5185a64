"""The history database's tables: machines, the runs made on them, each run's result rows, and every raw sample;
for the shared leaderboard server also its upload tokens and which runs were submitted to it.

Statistics are stored beside the samples so that queries (history, a leaderboard) need not recompute them;
the samples stay the data. Anything derived from several rows (speedup over baseline) is not stored.
Changing a table means a new migration in migrations/versions/; a test checks the two agree.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Index, Integer, LargeBinary, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Machine(Base):
    """One machine, deduplicated by its hardware identity; the software on it belongs to each run."""

    __tablename__ = "machines"

    id: Mapped[int] = mapped_column(primary_key=True)
    identity: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of `hardware`, canonical JSON
    hostname: Mapped[str] = mapped_column(String(255))
    cpu_model: Mapped[str] = mapped_column(String(255))
    logical_cores: Mapped[int | None] = mapped_column(Integer)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    gpus: Mapped[str] = mapped_column(String(1000))  # e.g. "NVIDIA H200", "" for none
    hardware: Mapped[dict] = mapped_column(JSON)
    # On a leaderboard server, the token that first submitted a run of it (0006): another token's runs of the same
    # hardware make another machine (store.convert.owned_identity), so nobody can post under someone else's
    # machine. None in a local history. An upload_tokens.id, without a foreign key (see migration 0006).
    owner_token_id: Mapped[int | None] = mapped_column(Integer, index=True)

    runs: Mapped[list[Run]] = relationship(back_populates="machine")


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64), unique=True)  # the id users type, e.g. 20261128T164315Z-eb9cf2
    machine_id: Mapped[int] = mapped_column(ForeignKey("machines.id"), index=True)
    schema_version: Mapped[int] = mapped_column(Integer)  # of the results JSON the run was made with
    batchmark_version: Mapped[str] = mapped_column(String(64))
    profile: Mapped[str] = mapped_column(String(32))
    command: Mapped[list] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    interrupted: Mapped[bool] = mapped_column(default=False)
    environment: Mapped[dict] = mapped_column(JSON)  # the full fingerprint: OS, drivers, framework versions
    calibration: Mapped[dict | None] = mapped_column(JSON)  # the machine's measured peaks at the time, if any
    budget_seconds: Mapped[float | None] = mapped_column(Float)  # the suite's wall-clock budget (0005)
    not_run: Mapped[list | None] = mapped_column(JSON)  # rows the budget could not afford (0005)
    screenings: Mapped[list | None] = mapped_column(JSON)  # accelerated plans tuned in the run (0005)
    # The process writing the run as it goes (pid, and its start time against a reused pid), so that a run with
    # no finished_at is told apart: still running, or ended without finishing (killed). None when imported (0006).
    writer_pid: Mapped[int | None] = mapped_column(Integer)
    writer_started: Mapped[float | None] = mapped_column(Float)

    machine: Mapped[Machine] = relationship(back_populates="runs")
    results: Mapped[list[Result]] = relationship(back_populates="run", order_by="Result.position",
                                                 cascade="all, delete-orphan")


class Result(Base):
    """One (workload, framework, plan) row of a run, ok or failed."""

    __tablename__ = "results"
    __table_args__ = (
        UniqueConstraint("run_pk", "position"),
        Index("ix_results_workload_framework", "workload", "framework"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # order within the run
    workload: Mapped[str] = mapped_column(String(100))
    framework: Mapped[str] = mapped_column(String(50))
    plan_label: Mapped[str] = mapped_column(String(500))
    plan: Mapped[dict] = mapped_column(JSON)
    device: Mapped[str] = mapped_column(String(20))
    precision: Mapped[str] = mapped_column(String(20))
    batch_size: Mapped[int] = mapped_column(Integer)
    image_size: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))  # "ok" or "failed"
    failure_kind: Mapped[str | None] = mapped_column(String(20))
    failure_message: Mapped[str | None] = mapped_column(Text)
    failure_log: Mapped[str | None] = mapped_column(Text)  # path of the worker's kept output
    warnings: Mapped[list] = mapped_column(JSON)  # [{"code", "message"}]
    flop_convention: Mapped[str] = mapped_column(Text)
    plan_source: Mapped[str | None] = mapped_column(String(20))  # "static" or "tuned" for named plans
    also_labels: Mapped[list | None] = mapped_column(JSON)  # other plan names measured by this row (0004)
    notes: Mapped[list | None] = mapped_column(JSON)  # sentences a reader must see beside the row (0005)
    wall_seconds: Mapped[float | None] = mapped_column(Float)  # the whole worker's wall time (0005)
    # What the worker measured, when it got that far (a failed row may have none).
    measured: Mapped[bool] = mapped_column(default=False)
    setup_seconds: Mapped[float | None] = mapped_column(Float)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    memory_kind: Mapped[str | None] = mapped_column(String(100))
    forward_flops_per_sample: Mapped[float | None] = mapped_column(Float)
    train_flops_per_sample: Mapped[float | None] = mapped_column(Float)
    device_name: Mapped[str | None] = mapped_column(String(255))
    framework_version: Mapped[str | None] = mapped_column(String(64))
    threads: Mapped[int | None] = mapped_column(Integer)
    stopped_by: Mapped[str | None] = mapped_column(String(20))  # why timing stopped (0005)
    precision_target: Mapped[float | None] = mapped_column(Float)  # the CI half-width asked for (0005)
    distributed_backend: Mapped[str | None] = mapped_column(String(20))  # "gloo", "nccl"; None: one process (0007)
    # Data-parallel rows (0007): None in rows written before, which were one process. The efficiency is derived from
    # this row's and its one-process reference's samples by a bootstrap, and kept as the statistics are.
    world_size: Mapped[int | None] = mapped_column(Integer)
    aggregate_samples_per_second: Mapped[float | None] = mapped_column(Float)
    scaling_efficiency: Mapped[float | None] = mapped_column(Float)
    scaling_efficiency_ci_low: Mapped[float | None] = mapped_column(Float)
    scaling_efficiency_ci_high: Mapped[float | None] = mapped_column(Float)
    # Energy over the timed steps (0008): the meter's raw reading or why there is none, and the clocks sampled
    # meanwhile, as the worker wrote them; the per-batch figures are derived from the reading (results.apply_energy).
    energy: Mapped[dict | None] = mapped_column(JSON)
    energy_missing: Mapped[str | None] = mapped_column(Text)
    clocks: Mapped[list | None] = mapped_column(JSON)
    joules_per_batch: Mapped[float | None] = mapped_column(Float)
    average_watts: Mapped[float | None] = mapped_column(Float)
    samples_per_joule: Mapped[float | None] = mapped_column(Float)
    # Statistics of the timed steps' seconds, derived from the samples.
    samples_per_second: Mapped[float | None] = mapped_column(Float)
    compile_seconds: Mapped[float | None] = mapped_column(Float)
    n: Mapped[int | None] = mapped_column(Integer)
    median: Mapped[float | None] = mapped_column(Float)
    mean: Mapped[float | None] = mapped_column(Float)
    stdev: Mapped[float | None] = mapped_column(Float)
    q1: Mapped[float | None] = mapped_column(Float)
    q3: Mapped[float | None] = mapped_column(Float)
    iqr: Mapped[float | None] = mapped_column(Float)
    min: Mapped[float | None] = mapped_column(Float)
    max: Mapped[float | None] = mapped_column(Float)
    cv: Mapped[float | None] = mapped_column(Float)
    ci_low: Mapped[float | None] = mapped_column(Float)
    ci_high: Mapped[float | None] = mapped_column(Float)

    run: Mapped[Run] = relationship(back_populates="results")
    samples: Mapped[list[Sample]] = relationship(back_populates="result", order_by="Sample.series",
                                                 cascade="all, delete-orphan")


class Sample(Base):
    """Every raw value of one series of a row, in order: its warm-up steps' seconds, its timed steps' seconds, or
    its losses. One row a series (0006; one a value before), so a long series is one insert, not thousands."""

    __tablename__ = "samples"

    result_id: Mapped[int] = mapped_column(ForeignKey("results.id", ondelete="CASCADE"), primary_key=True)
    series: Mapped[str] = mapped_column(String(16), primary_key=True)  # warmup_seconds, step_seconds, losses
    # Little-endian float64s (store.convert.pack): exact, 8 bytes a value, and a NaN (a diverged loss) is itself.
    packed: Mapped[bytes] = mapped_column(LargeBinary)

    result: Mapped[Result] = relationship(back_populates="samples")


class UploadToken(Base):
    """Who may submit runs to a leaderboard server. Only a hash is kept: the token is shown once, when made."""

    __tablename__ = "upload_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)  # who it was given to, for the admin
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)  # hex sha256 of the token's text
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Submission(Base):
    """A run uploaded to a leaderboard server. A run imported locally has none: the server lists only these."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_pk: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), unique=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("upload_tokens.id"), index=True)
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))  # of the submitted results, to tell a resend from a clash
    verified: Mapped[bool] = mapped_column(Boolean)  # False: implausible, kept off the leaderboard by default
    reasons: Mapped[list] = mapped_column(JSON)  # why it is unverified, one sentence each

    run: Mapped[Run] = relationship()


class SubmissionAttempt(Base):
    """One submission a token made, for the rate limit: kept here rather than in a server process, so that
    every worker of a server counts the same attempts (0006). Attempts older than the window are deleted."""

    __tablename__ = "submission_attempts"
    __table_args__ = (Index("ix_submission_attempts_token_time", "token_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("upload_tokens.id", ondelete="CASCADE"))
    attempted_at: Mapped[float] = mapped_column(Float)  # seconds since the epoch: one clock for every worker


class DataVersion(Base):
    """One row: a number each submission raises, in the submission's own transaction (0006). A server caches
    pages under it, so every worker knows at the cost of one tiny read whether its copy is still the data's."""

    __tablename__ = "data_version"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    version: Mapped[int] = mapped_column(BigInteger)


SAMPLE_SERIES = ("warmup_seconds", "step_seconds", "losses")
STATISTICS_COLUMNS = ("n", "median", "mean", "stdev", "q1", "q3", "iqr", "min", "max", "cv", "ci_low", "ci_high")
