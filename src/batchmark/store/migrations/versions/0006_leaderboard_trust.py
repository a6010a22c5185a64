"""The leaderboard's trust and speed, and runs that say how they ended (issue 16)

Three parts, each its own function, so that each concern's schema change reads on its own: what the server
checks and ties to a token, what it precomputes for fast pages and shared rate limits, and how a local run
ended.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

import hashlib
import itertools
import json
import math
import struct

from alembic import op  # noqa: F401  (the parts below use it)
import sqlalchemy as sa  # noqa: F401


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_integrity()
    upgrade_availability()
    upgrade_run_endings()


def downgrade() -> None:
    downgrade_run_endings()
    downgrade_availability()
    downgrade_integrity()


# --- integrity: machines owned by tokens, compact samples -------------------------------------------------------

SAMPLE_CHUNK = 500  # results whose samples are moved at a time: a large history is never read whole


def upgrade_integrity() -> None:
    # A plain column, no foreign key: SQLite can add a key only by rebuilding `machines`, which the runs' keys on it
    # forbid inside the upgrade's transaction. Tokens are revoked, never deleted, so an owner never dangles.
    op.add_column("machines", sa.Column("owner_token_id", sa.Integer(), nullable=True))
    op.create_index("ix_machines_owner_token_id", "machines", ["owner_token_id"])
    split_machines_by_token()
    op.create_table(
        "samples_packed",
        sa.Column("result_id", sa.Integer(), sa.ForeignKey("results.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("series", sa.String(length=16), primary_key=True),
        sa.Column("packed", sa.LargeBinary(), nullable=False),
    )
    old, new = value_samples_table("samples"), packed_samples_table("samples_packed")
    for result_ids in result_chunks(old):
        rows = op.get_bind().execute(sa.select(old).where(old.c.result_id.in_(result_ids))
                                     .order_by(old.c.result_id, old.c.series, old.c.position))
        packed = [{"result_id": result_id, "series": series,
                   "packed": pack([math.nan if row.value is None else row.value for row in values])}
                  for (result_id, series), values in itertools.groupby(rows, key=lambda row: (row.result_id, row.series))]
        op.get_bind().execute(new.insert(), packed)
    op.drop_table("samples")
    op.rename_table("samples_packed", "samples")


def downgrade_integrity() -> None:
    op.create_table(
        "samples_by_value",
        sa.Column("result_id", sa.Integer(), sa.ForeignKey("results.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("series", sa.String(length=16), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("value", sa.Float(), nullable=True),
    )
    old, new = packed_samples_table("samples"), value_samples_table("samples_by_value")
    for result_ids in result_chunks(old):
        rows = op.get_bind().execute(sa.select(old).where(old.c.result_id.in_(result_ids)))
        values = [{"result_id": row.result_id, "series": row.series, "position": position,
                   "value": None if math.isnan(value) else value}
                  for row in rows for position, value in enumerate(unpack(row.packed))]
        if values:
            op.get_bind().execute(new.insert(), values)
    op.drop_table("samples")
    op.rename_table("samples_by_value", "samples")
    merge_machines_of_tokens()
    op.drop_index("ix_machines_owner_token_id", table_name="machines")
    op.drop_column("machines", "owner_token_id")  # SQLite 3.35+ drops a plain column in place


# Frozen copies of what the code did at 0006 (store.convert): a migration must not change when the code does.
def pack(values: list[float]) -> bytes:
    return struct.pack(f"<{len(values)}d", *values)


def unpack(packed: bytes) -> tuple[float, ...]:
    return struct.unpack(f"<{len(packed) // 8}d", packed)


def owned_identity(identity: str, token_id: int) -> str:
    return hashlib.sha256(f"{identity}:token {token_id}".encode()).hexdigest()


def value_samples_table(name: str) -> sa.Table:
    return sa.table(name, sa.column("result_id"), sa.column("series"), sa.column("position"), sa.column("value"))


def packed_samples_table(name: str) -> sa.Table:
    return sa.table(name, sa.column("result_id"), sa.column("series"), sa.column("packed", sa.LargeBinary()))


def result_chunks(samples: sa.Table):
    ids = op.get_bind().execute(sa.select(samples.c.result_id).distinct().order_by(samples.c.result_id)).scalars().all()
    for start in range(0, len(ids), SAMPLE_CHUNK):
        yield ids[start:start + SAMPLE_CHUNK]


def reflected(*names: str) -> list[sa.Table]:
    metadata = sa.MetaData()
    return [sa.Table(name, metadata, autoload_with=op.get_bind()) for name in names]


def split_machines_by_token() -> None:
    """A machine belongs to the token that first submitted a run of it; runs another token submitted under the
    same fingerprint move to a machine of that token's own, as the server now makes them."""
    bind = op.get_bind()
    machines, runs, submissions = reflected("machines", "runs", "submissions")
    owners: dict[int, int] = {}
    copies: dict[tuple[int, int], int] = {}  # (machine, another token) -> that token's own machine
    for run_pk, machine_id, token_id in bind.execute(
            sa.select(runs.c.id, runs.c.machine_id, submissions.c.token_id)
            .join(submissions, submissions.c.run_pk == runs.c.id)
            .order_by(submissions.c.submitted_at, submissions.c.id)).all():
        if owners.setdefault(machine_id, token_id) == token_id:
            continue
        if (machine_id, token_id) not in copies:
            machine = dict(bind.execute(sa.select(machines).where(machines.c.id == machine_id)).mappings().one())
            del machine["id"]
            machine.update(identity=owned_identity(machine["identity"], token_id), owner_token_id=token_id)
            copies[machine_id, token_id] = bind.execute(machines.insert().values(**machine)).inserted_primary_key[0]
        bind.execute(runs.update().where(runs.c.id == run_pk).values(machine_id=copies[machine_id, token_id]))
    for machine_id, token_id in owners.items():
        bind.execute(machines.update().where(machines.c.id == machine_id).values(owner_token_id=token_id))


def merge_machines_of_tokens() -> None:
    """Back to one machine per hardware identity: a second token's machine gives its runs to the first's."""
    bind = op.get_bind()
    machines, runs = reflected("machines", "runs")
    by_identity = dict(bind.execute(sa.select(machines.c.identity, machines.c.id)).all())
    for machine_id, identity, hardware in bind.execute(
            sa.select(machines.c.id, machines.c.identity, machines.c.hardware)).all():
        base = hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()
        if identity == base:
            continue
        if base in by_identity:
            bind.execute(runs.update().where(runs.c.machine_id == machine_id).values(machine_id=by_identity[base]))
            bind.execute(machines.delete().where(machines.c.id == machine_id))
        else:
            bind.execute(machines.update().where(machines.c.id == machine_id).values(identity=base))
            by_identity[base] = machine_id


# --- availability: statistics stored at submit, rate limits shared by workers -----------------------------------

def upgrade_availability() -> None:
    op.create_table(
        "submission_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["token_id"], ["upload_tokens.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_submission_attempts_token_time", "submission_attempts", ["token_id", "attempted_at"])
    data_version = op.create_table(
        "data_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(data_version, [{"id": 1, "version": 0}])  # the one row each submission raises


def downgrade_availability() -> None:
    op.drop_table("data_version")
    op.drop_index("ix_submission_attempts_token_time", table_name="submission_attempts")
    op.drop_table("submission_attempts")


# --- run endings: how a run ended (finished, Ctrl-C, SIGTERM, killed) -------------------------------------------

def upgrade_run_endings() -> None:
    # The process writing a run, while it runs: a run without finished_at whose writer is gone was killed.
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('writer_pid', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('writer_started', sa.Float(), nullable=True))


def downgrade_run_endings() -> None:
    # Not batch mode: on SQLite that rebuilds `runs`, and with foreign keys on, dropping the old table cascades to
    # every result and sample. SQLite (3.35+) drops a plain column in place.
    op.drop_column('runs', 'writer_started')
    op.drop_column('runs', 'writer_pid')
