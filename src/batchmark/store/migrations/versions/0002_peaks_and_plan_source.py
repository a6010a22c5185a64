"""runs.calibration (the measured peaks) and results.plan_source (static or tuned plan)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('calibration', sa.JSON(), nullable=True))
    with op.batch_alter_table('results') as batch:
        batch.add_column(sa.Column('plan_source', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('results') as batch:
        batch.drop_column('plan_source')
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('calibration')
