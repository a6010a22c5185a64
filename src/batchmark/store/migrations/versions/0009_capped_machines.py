"""A CPU run with its instruction sets capped is another machine (issue 13)

A run made with ONEDNN_MAX_CPU_ISA=AVX2 (or another of the caps its fingerprint records) on an AVX-512 CPU measured
1.5-2x slower, without bf16: the machine it stands for is not the one its hardware says. From this revision the
hardware a machine is identified by includes the caps when there are any (store.convert.hardware_of), so a capped
run gets a machine of its own. This moves the capped runs kept before to theirs; downgrading moves them back.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

import hashlib
import json

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

MODEL_LENGTH = 255  # machines.cpu_model


# Frozen copies of what the code does at 0009 (store.convert): a migration must not change when the code does.
def machine_identity(hardware: dict) -> str:
    return hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()


def owned_identity(identity: str, token_id: int) -> str:
    return hashlib.sha256(f"{identity}:token {token_id}".encode()).hexdigest()


def cpu_model_of(hardware: dict) -> str:
    model = str(hardware["cpu"]["model"] or "unknown")
    if hardware.get("isa_limits"):
        model += " (capped: " + ", ".join(f"{name}={value}" for name, value in hardware["isa_limits"].items()) + ")"
    return model[:MODEL_LENGTH]


def identity_of(hardware: dict, like: dict) -> str:
    """The identity of `hardware` for the owner of machine `like`: a second token's copy of a machine (0006) has
    an identity derived from its hardware's and the token."""
    identity = machine_identity(hardware)
    owned = like["owner_token_id"] is not None and like["identity"] != machine_identity(like["hardware"])
    return owned_identity(identity, like["owner_token_id"]) if owned else identity


def tables() -> tuple[sa.Table, sa.Table]:
    metadata = sa.MetaData()
    return (sa.Table("machines", metadata, autoload_with=op.get_bind()),
            sa.Table("runs", metadata, autoload_with=op.get_bind()))


def move_runs(run_ids: list[int], machine: dict, hardware: dict) -> None:
    """Runs `run_ids` of `machine` to the machine of `hardware` (the same owner), made if it is not there yet. The
    machine they leave stays, with its owner: a later run of its hardware is still its owner's."""
    bind = op.get_bind()
    machines, runs = tables()
    identity = identity_of(hardware, machine)
    target = bind.execute(sa.select(machines.c.id).where(machines.c.identity == identity)).scalar()
    if target is None:
        values = {key: value for key, value in machine.items() if key != "id"}
        values.update(identity=identity, hardware=hardware, cpu_model=cpu_model_of(hardware))
        target = bind.execute(machines.insert().values(**values)).inserted_primary_key[0]
    bind.execute(runs.update().where(runs.c.id.in_(run_ids)).values(machine_id=target))


def upgrade() -> None:
    bind = op.get_bind()
    machines, runs = tables()
    capped: dict[tuple[int, str], tuple[dict, list[int]]] = {}  # (machine, caps as canonical JSON) -> (caps, runs)
    for run_id, machine_id, environment in bind.execute(sa.select(runs.c.id, runs.c.machine_id, runs.c.environment)):
        limits = environment.get("isa_limits") if isinstance(environment, dict) else None
        if limits and isinstance(limits, dict):
            capped.setdefault((machine_id, json.dumps(limits, sort_keys=True)), (limits, []))[1].append(run_id)
    for (machine_id, _), (limits, run_ids) in capped.items():
        machine = dict(bind.execute(sa.select(machines).where(machines.c.id == machine_id)).mappings().one())
        if not machine["hardware"].get("isa_limits"):  # else already a capped machine's
            move_runs(run_ids, machine, {**machine["hardware"], "isa_limits": limits})


def downgrade() -> None:
    bind = op.get_bind()
    machines, runs = tables()
    for machine in bind.execute(sa.select(machines)).mappings().all():
        if machine["hardware"].get("isa_limits"):
            run_ids = bind.execute(sa.select(runs.c.id).where(runs.c.machine_id == machine["id"])).scalars().all()
            uncapped = {key: value for key, value in machine["hardware"].items() if key != "isa_limits"}
            if run_ids:
                move_runs(run_ids, dict(machine), uncapped)
    # The capped machines stay, without runs (listings show only machines with runs): each keeps its owner, and
    # upgrading again gives its runs back to it.
