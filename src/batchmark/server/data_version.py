"""The data's version: a number in the database that every stored submission raises, in its own transaction.

What the server shows changes only when a run is submitted, so a page rendered at version v stays right until
the version moves. Raising it in the submission's transaction (an ORM event on the insert, whoever inserts)
means no reader can see the new run under the old version; keeping it in the database means every worker
process sees the same number.
"""

from __future__ import annotations

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from batchmark.store.tables import DataVersion, Submission

ROW = 1  # the table's only row, inserted by migration 0006


@event.listens_for(Submission, "after_insert")
def submission_stored(mapper, connection, submission) -> None:
    table = DataVersion.__table__
    connection.execute(update(table).where(table.c.id == ROW).values(version=table.c.version + 1))


def current(engine: Engine) -> int:
    """The version now: one primary-key read (give it a `store.database.reader` engine: no lock on SQLite)."""
    with engine.connect() as connection:
        return connection.execute(select(DataVersion.version).where(DataVersion.id == ROW)).scalar_one()
