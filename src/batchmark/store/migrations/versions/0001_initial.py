"""machines, runs, results and raw samples

Revision ID: 0001
Revises: none, the first schema
Create Date: 2026-11-28
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('machines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('identity', sa.String(length=64), nullable=False),
    sa.Column('hostname', sa.String(length=255), nullable=False),
    sa.Column('cpu_model', sa.String(length=255), nullable=False),
    sa.Column('logical_cores', sa.Integer(), nullable=True),
    sa.Column('memory_bytes', sa.BigInteger(), nullable=True),
    sa.Column('gpus', sa.String(length=1000), nullable=False),
    sa.Column('hardware', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('identity')
    )
    op.create_table('runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.String(length=64), nullable=False),
    sa.Column('machine_id', sa.Integer(), nullable=False),
    sa.Column('schema_version', sa.Integer(), nullable=False),
    sa.Column('batchmark_version', sa.String(length=64), nullable=False),
    sa.Column('profile', sa.String(length=32), nullable=False),
    sa.Column('command', sa.JSON(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('interrupted', sa.Boolean(), nullable=False),
    sa.Column('environment', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['machine_id'], ['machines.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id')
    )
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_runs_machine_id'), ['machine_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_runs_started_at'), ['started_at'], unique=False)

    op.create_table('results',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_pk', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('workload', sa.String(length=100), nullable=False),
    sa.Column('framework', sa.String(length=50), nullable=False),
    sa.Column('plan_label', sa.String(length=500), nullable=False),
    sa.Column('plan', sa.JSON(), nullable=False),
    sa.Column('device', sa.String(length=20), nullable=False),
    sa.Column('precision', sa.String(length=20), nullable=False),
    sa.Column('batch_size', sa.Integer(), nullable=False),
    sa.Column('image_size', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('failure_kind', sa.String(length=20), nullable=True),
    sa.Column('failure_message', sa.Text(), nullable=True),
    sa.Column('failure_log', sa.Text(), nullable=True),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('flop_convention', sa.Text(), nullable=False),
    sa.Column('measured', sa.Boolean(), nullable=False),
    sa.Column('setup_seconds', sa.Float(), nullable=True),
    sa.Column('peak_memory_bytes', sa.BigInteger(), nullable=True),
    sa.Column('memory_kind', sa.String(length=100), nullable=True),
    sa.Column('forward_flops_per_sample', sa.Float(), nullable=True),
    sa.Column('train_flops_per_sample', sa.Float(), nullable=True),
    sa.Column('device_name', sa.String(length=255), nullable=True),
    sa.Column('framework_version', sa.String(length=64), nullable=True),
    sa.Column('threads', sa.Integer(), nullable=True),
    sa.Column('samples_per_second', sa.Float(), nullable=True),
    sa.Column('compile_seconds', sa.Float(), nullable=True),
    sa.Column('n', sa.Integer(), nullable=True),
    sa.Column('median', sa.Float(), nullable=True),
    sa.Column('mean', sa.Float(), nullable=True),
    sa.Column('stdev', sa.Float(), nullable=True),
    sa.Column('q1', sa.Float(), nullable=True),
    sa.Column('q3', sa.Float(), nullable=True),
    sa.Column('iqr', sa.Float(), nullable=True),
    sa.Column('min', sa.Float(), nullable=True),
    sa.Column('max', sa.Float(), nullable=True),
    sa.Column('cv', sa.Float(), nullable=True),
    sa.Column('ci_low', sa.Float(), nullable=True),
    sa.Column('ci_high', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['run_pk'], ['runs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_pk', 'position')
    )
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.create_index('ix_results_workload_framework', ['workload', 'framework'], unique=False)

    op.create_table('samples',
    sa.Column('result_id', sa.Integer(), nullable=False),
    sa.Column('series', sa.String(length=16), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['result_id'], ['results.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('result_id', 'series', 'position')
    )


def downgrade() -> None:
    op.drop_table('samples')
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_index('ix_results_workload_framework')

    op.drop_table('results')
    with op.batch_alter_table('runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_runs_started_at'))
        batch_op.drop_index(batch_op.f('ix_runs_machine_id'))

    op.drop_table('runs')
    op.drop_table('machines')
