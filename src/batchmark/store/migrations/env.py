"""Alembic's entry point. batchmark runs it on a connection it has already opened (see store/schema.py)."""

from alembic import context

from batchmark.store.tables import Base

connection = context.config.attributes["connection"]
# Batch mode lets later migrations alter SQLite tables (which have almost no ALTER TABLE).
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
