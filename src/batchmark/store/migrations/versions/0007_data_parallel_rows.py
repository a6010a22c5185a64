"""Data-parallel rows (issue 15): each result's world size, its process group's backend, its aggregate throughput and
its scaling efficiency against the one-process row of the same run, with that ratio's CI

The efficiency is derived from two rows' samples by a bootstrap, which the store cannot run, so it is kept as the
statistics are: beside the samples it came from.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# Plain add/drop, not batch mode: on SQLite batch mode rebuilds `results`, and the samples' foreign keys would
# cascade-delete with it.
COLUMNS = (
    ('world_size', sa.Integer()),  # None in rows written before: one process
    ('distributed_backend', sa.String(length=20)),
    ('aggregate_samples_per_second', sa.Float()),
    ('scaling_efficiency', sa.Float()),
    ('scaling_efficiency_ci_low', sa.Float()),
    ('scaling_efficiency_ci_high', sa.Float()),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column('results', sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column('results', name)
