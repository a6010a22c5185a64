"""The suite's budget, each row's stop reason and precision target, notes and wall time, and in-run tunings

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('budget_seconds', sa.Float(), nullable=True))
        batch.add_column(sa.Column('not_run', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('screenings', sa.JSON(), nullable=True))
    with op.batch_alter_table('results') as batch:
        batch.add_column(sa.Column('stopped_by', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('precision_target', sa.Float(), nullable=True))
        batch.add_column(sa.Column('wall_seconds', sa.Float(), nullable=True))
        batch.add_column(sa.Column('notes', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('results') as batch:
        for column in ('notes', 'wall_seconds', 'precision_target', 'stopped_by'):
            batch.drop_column(column)
    with op.batch_alter_table('runs') as batch:
        for column in ('screenings', 'not_run', 'budget_seconds'):
            batch.drop_column(column)
