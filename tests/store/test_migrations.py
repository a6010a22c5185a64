"""Schema upgrades: the migrations build exactly the tables the code uses, every step goes up and down, a
database from any older version opens, and one from a newer version is refused."""

from __future__ import annotations

import multiprocessing

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from batchmark.store import StoreError, open_history
from batchmark.store.database import create_engine, resolve_url
from batchmark.store.schema import alembic_config, current_revision, downgrade, head_revision, upgrade
from batchmark.store.tables import Base
from tests import sample_runs


def revisions_oldest_first() -> list[str]:
    return [script.revision for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]


def engine_for(database_url: str) -> sqlalchemy.Engine:
    return create_engine(resolve_url(database_url))


def test_the_migrations_build_exactly_the_tables_the_code_uses(database_url):
    engine = engine_for(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "tables.py changed without a migration: add one in store/migrations/versions"


def test_every_migration_goes_up_down_and_up_again(database_url):
    engine = engine_for(database_url)
    previous = "base"
    for revision in revisions_oldest_first():
        upgrade(engine, revision)
        downgrade(engine, previous)
        upgrade(engine, revision)
        with engine.connect() as connection:
            assert current_revision(connection) == revision
        previous = revision


@pytest.mark.parametrize("older", ["base", *revisions_oldest_first()[:-1]])
def test_a_database_from_an_older_version_opens_and_is_upgraded(database_url, older):
    engine = engine_for(database_url)
    if older != "base":
        upgrade(engine, older)
    engine.dispose()
    history = open_history(database_url)
    with history.engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    run = sample_runs.standard_run()
    history.import_run(run)
    assert history.load(run.run_id).model_dump() == run.model_dump()


def test_a_database_from_a_newer_version_is_refused(database_url):
    history = open_history(database_url)
    history.import_run(sample_runs.standard_run())
    with history.engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    history.close()
    with pytest.raises(StoreError, match="newer batchmark \\(schema revision f00dfeed\\); upgrade batchmark"):
        open_history(database_url)


def _open_and_count(database_url: str) -> int:
    return len(open_history(database_url).runs())


def test_two_processes_creating_the_same_new_database_both_succeed(database_url):
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        assert pool.map(_open_and_count, [database_url, database_url]) == [0, 0]
