"""Energy and clocks (issue 17): each result's energy meter reading over its timed steps (or why there is none), the
joules per batch, average watts and samples per joule derived from it, and the clocks sampled during the steps

The reading and the clock samples are raw, kept as JSON beside the row; the three per-batch figures are derived
from the reading, and kept as columns as samples_per_second is, so that the leaderboard can sort and chart them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Plain add/drop, not batch mode: on SQLite batch mode rebuilds `results`, and the samples' foreign keys would
# cascade-delete with it. All nullable: rows written before have no meter reading and no clocks.
COLUMNS = (
    ('energy', sa.JSON()),  # {"meter", "domains", "joules", "seconds", "steps"}
    ('energy_missing', sa.Text()),
    ('clocks', sa.JSON()),  # [{"seconds", "cpu_mhz", "gpu_sm_mhz", "gpu_temperature_c", "throttle_reasons"}]
    ('joules_per_batch', sa.Float()),
    ('average_watts', sa.Float()),
    ('samples_per_joule', sa.Float()),
)


def upgrade() -> None:
    for name, kind in COLUMNS:
        op.add_column('results', sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column('results', name)
