"""Schema upgrades with Alembic, run by batchmark itself whenever it opens a database.

An older database is upgraded in one transaction (SQLite and PostgreSQL both have transactional DDL), so a
crash mid-upgrade leaves the old schema intact; a second process opening the same database waits for the
first (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock). A database from a newer batchmark is refused.
"""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from batchmark.store.database import StoreError, describe

ADVISORY_LOCK_KEY = 0x62617463686D6B  # "batchmk": serializes batchmark's upgrades on one PostgreSQL server


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("batchmark.store") / "migrations"))
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Bring the database to `target` (the newest schema unless a test asks for an older one)."""
    config = alembic_config()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})
        revision = current_revision(connection)
        if revision is not None and revision not in known:
            raise StoreError(f"{describe(engine.url)}: written by a newer batchmark (schema revision {revision}); "
                             f"upgrade batchmark to read it")
        if target == "head" and revision == head_revision():
            return
        config.attributes["connection"] = connection
        try:
            command.upgrade(config, target)
        except CommandError as error:
            raise StoreError(f"{describe(engine.url)}: schema upgrade failed: {error}") from None


def downgrade(engine: Engine, target: str) -> None:
    """For the migration tests only: batchmark never downgrades a user's database."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, target)
