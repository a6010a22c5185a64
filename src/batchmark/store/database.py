"""Where the history lives and how it is opened: URL resolution, the engine, schema upgrades, and errors.

The default is a SQLite file in the user data directory, in WAL mode so that readers never block the run
writing to it (and are never blocked by it: see `reader`). `--db` or BATCHMARK_DB takes any SQLAlchemy URL (PostgreSQL for a team) or a plain path.
A database that cannot be read is reported in one line and never replaced.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from batchmark.errors import StoreError

DATABASE_VARIABLE = "BATCHMARK_DB"
SQLITE_HEADER = b"SQLite format 3\x00"
# Another run may hold the write lock for one row's insert; waiting this long is never a real wait.
SQLITE_BUSY_TIMEOUT_SECONDS = 60
DRIVERLESS_SCHEMES = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}
READS_ONLY = "batchmark_reads_only"  # an execution option: this engine's transactions never write


def default_database_path() -> Path:
    import platformdirs

    return platformdirs.user_data_path("batchmark") / "history.sqlite"


def resolve_url(database: str | None) -> sqlalchemy.URL:
    """`--db`, else BATCHMARK_DB, else the default SQLite file. A value without '://' is a SQLite file path."""
    value = database or os.environ.get(DATABASE_VARIABLE) or str(default_database_path())
    if "://" not in value:
        return sqlalchemy.URL.create("sqlite", database=str(Path(value).expanduser().resolve()))
    try:
        url = make_url(value)
    except (ArgumentError, ValueError):
        raise StoreError(f"database URL {value!r} is not a SQLAlchemy URL (e.g. sqlite:///path/history.sqlite or "
                         f"postgresql://user@host/dbname)") from None
    if url.drivername in DRIVERLESS_SCHEMES:  # psycopg 3 is the driver batchmark installs
        url = url.set(drivername=DRIVERLESS_SCHEMES[url.drivername])
    return url


def describe(url: sqlalchemy.URL) -> str:
    """The database as a user would name it, password hidden."""
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    return url.render_as_string(hide_password=True)


def check_sqlite_file(path: Path) -> None:
    """Refuse what is not a SQLite file before SQLite touches it: a wrong --db must never be overwritten."""
    if path.is_dir():
        raise StoreError(f"{path}: is a directory, not a database file; give --db a file path")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"{path}: cannot create its folder: {error.strerror}") from None
        return
    try:
        with open(path, "rb") as stream:
            header = stream.read(len(SQLITE_HEADER))
    except OSError as error:
        raise StoreError(f"{path}: cannot read the history database: {error.strerror}") from None
    if header and header != SQLITE_HEADER:
        raise StoreError(f"{path}: not a SQLite database (corrupt or another kind of file); it was left as it "
                         f"is: move it aside, or choose another with --db or {DATABASE_VARIABLE}")


POSTGRES_POOL_SIZE = 40  # anyio's default thread limit, which runs a server process's database work


def create_engine(url: sqlalchemy.URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            check_sqlite_file(Path(url.database))
        engine = sqlalchemy.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        _configure_sqlite(engine)
        return engine
    try:
        # The pool keeps as many connections as a server process runs requests at once (Starlette's threadpool:
        # 40). SQLAlchemy's default keeps 5 and closes every connection past them when it is returned: under load
        # each request then opened a new connection, a new PostgreSQL server process with cold caches (250-340 a
        # second while pages were read, in the load test). Connections are opened only when needed: a command
        # that uses one opens one. `serve --workers N` needs max_connections of at least 40 N (the default 100
        # fits 2).
        return sqlalchemy.create_engine(url, pool_pre_ping=True, pool_size=POSTGRES_POOL_SIZE, max_overflow=0)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as error:
        raise StoreError(f"no driver for {url.drivername} ({error}); for PostgreSQL install batchmark[postgres] "
                         f"and use a postgresql:// URL") from None


def reader(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that only read.

    On SQLite they begin DEFERRED: in WAL mode such a transaction reads a snapshot and takes no lock, so a
    page view never waits for a writer. Every other transaction begins IMMEDIATE (below), which queues it
    behind the writer for up to the busy timeout: right for writes, and what made every read wait too.
    On PostgreSQL the option changes nothing: its readers never wait for writers.
    """
    return engine.execution_options(**{READS_ONLY: True})


WAL_SWITCH_SECONDS = 10.0  # longer than a new database's schema takes to create


def wal_mode(cursor) -> None:
    """Put the file in WAL mode (once per file; then a no-op). Switching needs the file to itself and does not wait
    on the busy timeout: two processes opening one new database at once saw "database is locked" here while the
    other created the schema, so the switch is tried again until the other is done."""
    deadline = time.monotonic() + WAL_SWITCH_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, and transactions that take the write lock up front, unless they only read.

    Python's sqlite3 starts transactions late and commits before DDL on its own; SQLAlchemy's documented
    recipe hands transaction control back to SQLAlchemy. BEGIN IMMEDIATE makes two runs writing at once
    queue on the busy timeout instead of failing with "database is locked" when a read turns into a write,
    and makes a schema upgrade one atomic step that a second process waits for. A transaction opened
    through `reader` cannot turn into a write, so it begins deferred and never queues.
    """

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, connection_record) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        wal_mode(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's recommended level: durable at each checkpoint
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection) -> None:
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(READS_ONLY) else "BEGIN IMMEDIATE")


def explain(error: SQLAlchemyError, url: sqlalchemy.URL) -> StoreError:
    """One line for a database error: which database, and what the driver said."""
    where = describe(url)
    original = getattr(error, "orig", None)
    detail = str(original if original is not None else error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    if url.get_backend_name() == "sqlite" and isinstance(error, DBAPIError) and "not a database" in detail:
        return StoreError(f"{where}: not a SQLite database (corrupt?); it was left as it is: move it aside, or "
                          f"choose another with --db or {DATABASE_VARIABLE}")
    return StoreError(f"history database {where}: {detail}")
