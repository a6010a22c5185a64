"""`database_url`: a test that takes it runs on SQLite, and on a real PostgreSQL server when one is reachable.

BATCHMARK_TEST_POSTGRES names the server (default: the local one over its Unix socket, as .ci/run sets it
up); BATCHMARK_REQUIRE_POSTGRES=1 (set by .ci/run) turns "unreachable" from a skip into a failure.
"""

from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy

POSTGRES_ADMIN_URL = os.environ.get("BATCHMARK_TEST_POSTGRES",
                                    "postgresql+psycopg://root@/postgres?host=/var/run/postgresql")


def _postgres_admin() -> sqlalchemy.Engine:
    engine = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("SELECT 1"))
    except Exception as error:  # any driver or connection failure means: no server here
        engine.dispose()
        message = f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {str(error).splitlines()[0]}"
        if os.environ.get("BATCHMARK_REQUIRE_POSTGRES") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A new, empty database for one test."""
    if request.param == "sqlite":
        yield str(tmp_path / "history.sqlite")
        return
    admin = _postgres_admin()
    name = f"batchmark_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sqlalchemy.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
