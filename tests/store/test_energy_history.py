"""Energy and clocks in the history: what goes in comes back out, and 0008 keeps the rows it widens."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from batchmark.results import ClockSample, EnergyReading, apply_energy
from batchmark.store import open_history
from batchmark.store.schema import upgrade
from tests import sample_runs


def metered_run():
    run = sample_runs.standard_run()
    first, second = run.rows[0], run.rows[1]
    first.measured.energy = EnergyReading(meter="rapl", domains=["package-0"], joules=300.0, seconds=12.0,
                                          steps=len(first.measured.step_seconds))
    first.measured.clocks = [ClockSample(seconds=0.0, cpu_mhz=3000.0),
                             ClockSample(seconds=0.5, gpu_sm_mhz=1400.0, throttle_reasons=["sw_power_cap"])]
    second.measured.energy_missing = "no energy meter: /sys/class/powercap is absent"
    for row in run.rows:
        apply_energy(row)
    return run


def test_energy_and_clocks_come_back_exactly(database_url):
    run = metered_run()
    history = open_history(database_url)
    assert history.import_run(run)
    back = history.load(run.run_id)
    assert back.model_dump() == run.model_dump()
    assert back.rows[0].samples_per_joule == pytest.approx(run.rows[0].batch_size / run.rows[0].joules_per_batch)
    assert back.rows[1].energy_note == "no energy meter: /sys/class/powercap is absent"


def test_0008_adds_columns_without_losing_samples(tmp_path):
    url = f"sqlite:///{tmp_path / 'history.db'}"
    engine = sa.create_engine(url)
    upgrade(engine, "0007")
    engine.dispose()
    history = open_history(url)  # upgrades to head, 0008 among them
    run = sample_runs.standard_run()
    history.import_run(run)
    engine = sa.create_engine(url)
    upgrade(engine, "head")
    with engine.connect() as connection:
        samples = connection.execute(sa.text("select count(*) from samples")).scalar_one()
        columns = {column["name"] for column in sa.inspect(connection).get_columns("results")}
    assert samples > 0 and {"energy", "clocks", "samples_per_joule"} <= columns
    assert history.load(run.run_id).model_dump() == run.model_dump()
