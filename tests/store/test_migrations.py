"""Schema upgrades: the migrations build exactly the tables the code uses, every step goes up and down, a
database from any older version opens, and one from a newer version is refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import multiprocessing
import struct

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from batchmark.store import StoreError, open_history
from batchmark.store.database import create_engine, resolve_url
from batchmark.store.schema import alembic_config, current_revision, downgrade, head_revision, upgrade
from batchmark.store.tables import Base
from tests import sample_runs


def revisions_oldest_first() -> list[str]:
    return [script.revision for script in reversed(list(ScriptDirectory.from_config(alembic_config()).walk_revisions()))]


def engine_for(database_url: str) -> sqlalchemy.Engine:
    return create_engine(resolve_url(database_url))


def test_the_migrations_build_exactly_the_tables_the_code_uses(database_url):
    engine = engine_for(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "tables.py changed without a migration: add one in store/migrations/versions"


def test_every_migration_goes_up_down_and_up_again(database_url):
    engine = engine_for(database_url)
    previous = "base"
    for revision in revisions_oldest_first():
        upgrade(engine, revision)
        downgrade(engine, previous)
        upgrade(engine, revision)
        with engine.connect() as connection:
            assert current_revision(connection) == revision
        previous = revision


@pytest.mark.parametrize("older", ["base", *revisions_oldest_first()[:-1]])
def test_a_database_from_an_older_version_opens_and_is_upgraded(database_url, older):
    engine = engine_for(database_url)
    if older != "base":
        upgrade(engine, older)
    engine.dispose()
    history = open_history(database_url)
    with history.engine.connect() as connection:
        assert current_revision(connection) == head_revision()
    run = sample_runs.standard_run()
    history.import_run(run)
    assert history.load(run.run_id).model_dump() == run.model_dump()


def test_a_database_from_a_newer_version_is_refused(database_url):
    history = open_history(database_url)
    history.import_run(sample_runs.standard_run())
    with history.engine.begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE alembic_version SET version_num = 'f00dfeed'"))
    history.close()
    with pytest.raises(StoreError, match="newer batchmark \\(schema revision f00dfeed\\); upgrade batchmark"):
        open_history(database_url)


def _open_and_count(database_url: str) -> int:
    return len(open_history(database_url).runs())


def test_two_processes_creating_the_same_new_database_both_succeed(database_url):
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        assert pool.map(_open_and_count, [database_url, database_url]) == [0, 0]


def test_0006_packs_samples_and_gives_each_token_its_own_machine_and_back(database_url):
    """Samples stored one row a value (NULL for NaN) become one row a series; a machine two tokens submitted under
    becomes two. Downgrading restores both exactly."""
    engine = engine_for(database_url)
    upgrade(engine, "0005")
    tables = sqlalchemy.MetaData()
    tables.reflect(engine)
    t = tables.tables
    hardware = {"hostname": "box", "cpu": {"model": "cpu"}}
    identity = hashlib.sha256(json.dumps(hardware, sort_keys=True).encode()).hexdigest()  # as store.convert makes it
    with engine.begin() as connection:
        connection.execute(t["upload_tokens"].insert(), [
            {"id": token, "name": name, "token_sha256": str(token) * 64, "created_at": dt.datetime(2026, 1, 1),
             "revoked": False} for token, name in ((1, "alice"), (2, "mallory"))])
        machine = connection.execute(t["machines"].insert().values(
            identity=identity, hostname="box", cpu_model="cpu", gpus="", hardware=hardware)).inserted_primary_key[0]
        for run in (1, 2, 3):
            connection.execute(t["runs"].insert().values(
                id=run, run_id=f"run-{run}", machine_id=machine, schema_version=1, batchmark_version="0.1.0",
                profile="standard", command=[], started_at=dt.datetime(2026, 1, run), interrupted=False,
                environment={}))
            connection.execute(t["results"].insert().values(
                id=run, run_pk=run, position=0, workload="mobilenetv3", framework="torch", plan_label="baseline",
                plan={}, device="cpu", precision="fp32", batch_size=32, image_size=224, status="ok", warnings=[],
                flop_convention="", measured=True))
            connection.execute(t["submissions"].insert().values(
                run_pk=run, token_id={1: 1, 2: 2, 3: 1}[run], submitted_at=dt.datetime(2026, 1, run),
                content_sha256="0" * 64, verified=True, reasons=[]))
        by_value = [{"result_id": result, "series": "losses", "position": position, "value": value}
                    for result in (1, 2, 3) for position, value in enumerate([2.5, None, 1e-300])]
        by_value += [{"result_id": 1, "series": "step_seconds", "position": position, "value": 0.25 * position}
                     for position in range(3000)]
        connection.execute(t["samples"].insert(), by_value)

    upgrade(engine, "0006")
    with engine.connect() as connection:
        packed = {(row.result_id, row.series): row.packed for row in connection.execute(
            sqlalchemy.text("SELECT result_id, series, packed FROM samples"))}
        machines = connection.execute(sqlalchemy.text(
            "SELECT id, identity, owner_token_id FROM machines ORDER BY id")).all()
        run_machines = dict(connection.execute(sqlalchemy.text("SELECT run_id, machine_id FROM runs")).all())
    assert len(packed) == 4
    losses = struct.unpack("<3d", packed[2, "losses"])
    assert losses[0] == 2.5 and math.isnan(losses[1]) and losses[2] == 1e-300
    assert struct.unpack("<3000d", packed[1, "step_seconds"]) == tuple(0.25 * position for position in range(3000))
    assert [(row.id == machine, row.owner_token_id) for row in machines] == [(True, 1), (False, 2)]
    assert machines[1].identity != identity
    assert run_machines == {"run-1": machine, "run-2": machines[1].id, "run-3": machine}

    downgrade(engine, "0005")
    with engine.connect() as connection:
        values = connection.execute(sqlalchemy.text(
            "SELECT result_id, series, position, value FROM samples ORDER BY result_id, series, position")).all()
        machine_ids = connection.execute(sqlalchemy.text("SELECT id FROM machines")).scalars().all()
        run_machines = set(connection.execute(sqlalchemy.text("SELECT machine_id FROM runs")).scalars())
    assert sorted(map(tuple, values)) == sorted((row["result_id"], row["series"], row["position"], row["value"])
                                                for row in by_value)
    assert machine_ids == [machine] and run_machines == {machine}


def test_the_data_version_starts_at_zero_and_each_submission_raises_it(database_url):
    """0006's one row: present after an upgrade from 0005 (it is the migration that inserts it), raised by a
    stored submission in the submission's transaction, and not by a run imported without one."""
    import hashlib

    from batchmark.server import data_version, queries
    from batchmark.store.tokens import create_token

    engine = engine_for(database_url)
    upgrade(engine, "0005")
    engine.dispose()
    history = open_history(database_url)
    assert data_version.current(history.engine) == 0
    history.import_run(sample_runs.standard_run())
    assert data_version.current(history.engine) == 0
    token, _ = create_token(history, "alice")
    run = sample_runs.standard_run()
    queries.submit(history, run, hashlib.sha256(run.model_dump_json().encode()).hexdigest(), token.id, [])
    assert data_version.current(history.engine) == 1
    history.close()


def test_0009_gives_capped_runs_their_own_machine_per_owner_and_back(database_url):
    """Runs made with the instruction sets capped move to the machine the code now makes for them (the same
    identity, so the next capped run joins them), one per owner as 0006 made them; downgrading moves them back."""
    from batchmark.machine import CpuFingerprint, Fingerprint
    from batchmark.store.convert import hardware_of, machine_identity, owned_identity

    limits = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    fingerprint = Fingerprint(hostname="box", cpu=CpuFingerprint(model="cpu"))
    hardware = hardware_of(fingerprint)
    capped = machine_identity(hardware_of(fingerprint.model_copy(update={"isa_limits": limits})))
    engine = engine_for(database_url)
    upgrade(engine, "0008")
    tables = sqlalchemy.MetaData()
    tables.reflect(engine)
    t = tables.tables
    with engine.begin() as connection:
        first, second = (connection.execute(t["machines"].insert().values(
            identity=identity, hostname="box", cpu_model="cpu", gpus="", hardware=hardware, owner_token_id=owner))
            .inserted_primary_key[0] for identity, owner in ((machine_identity(hardware), 1),
                                                             (owned_identity(machine_identity(hardware), 2), 2)))
        for run, machine, environment in ((1, first, {}), (2, first, {"isa_limits": limits}),
                                          (3, first, {"isa_limits": limits}), (4, second, {"isa_limits": limits})):
            connection.execute(t["runs"].insert().values(
                id=run, run_id=f"run-{run}", machine_id=machine, schema_version=1, batchmark_version="0.1.0",
                profile="standard", command=[], started_at=dt.datetime(2026, 1, run), interrupted=False,
                environment=environment))

    def homes():
        with engine.connect() as connection:
            return {run_id: (identity, cpu_model, owner) for run_id, identity, cpu_model, owner in connection.execute(
                sqlalchemy.text("SELECT run_id, identity, cpu_model, owner_token_id FROM runs "
                                "JOIN machines ON machines.id = runs.machine_id"))}

    before = homes()
    upgrade(engine, "0009")
    after = homes()
    assert after["run-1"] == before["run-1"]
    assert after["run-2"] == after["run-3"] == (capped, "cpu (capped: ONEDNN_MAX_CPU_ISA=AVX2)", 1)
    assert after["run-4"] == (owned_identity(capped, 2), "cpu (capped: ONEDNN_MAX_CPU_ISA=AVX2)", 2)

    downgrade(engine, "0008")
    assert homes() == before
    upgrade(engine, "0009")
    assert homes() == after
