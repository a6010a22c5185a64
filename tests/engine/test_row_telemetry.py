"""A row's energy and clocks, as the parent derives them from what the worker read."""

import pytest

from batchmark.engine.runner import Job, make_row
from batchmark.plans import Plan
from batchmark.results import ClockSample, EnergyReading, WorkerOutput
from batchmark.telemetry.clocks import CLOCKS_THROTTLED


def output(**telemetry):
    return WorkerOutput(setup_seconds=1.0, warmup_seconds=[2.0], step_seconds=[0.5] * 8, losses=[1.0] * 8,
                        peak_memory_bytes=1, memory_kind="process peak RSS", forward_flops_per_sample=1.0,
                        train_flops_per_sample=3.0, device_name="cpu", framework_version="x", threads=2, **telemetry)


def row(**telemetry):
    return make_row(Job("mobilenetv3", "torch", "baseline", Plan(), 32, 224), output(**telemetry), None)


def test_energy_per_batch_watts_and_samples_per_joule():
    made = row(energy=EnergyReading(meter="rapl", domains=["package-0"], joules=200.0, seconds=4.0, steps=8))
    assert made.joules_per_batch == pytest.approx(25.0)  # 200 J over 8 steps
    assert made.average_watts == pytest.approx(50.0)  # 200 J over 4 s
    assert made.samples_per_joule == pytest.approx(32 / 25.0)
    assert made.energy_note is None


def test_a_window_under_a_second_is_too_coarse_not_a_number():
    made = row(energy=EnergyReading(meter="nvml", domains=["GPU: x"], joules=30.0, seconds=0.4, steps=8))
    assert made.joules_per_batch is None and made.samples_per_joule is None
    assert "too coarse" in made.energy_note


def test_no_meter_is_a_reason_not_a_guess():
    made = row(energy_missing="no energy meter: /sys/class/powercap is absent")
    assert made.joules_per_batch is None and made.energy_note == "no energy meter: /sys/class/powercap is absent"


def test_files_from_before_energy_was_kept_say_nothing():
    made = row()
    assert made.joules_per_batch is None and made.energy_note is None


def test_a_throttled_row_is_warned_with_the_fix():
    made = row(clocks=[ClockSample(seconds=0.0, cpu_mhz=3000), ClockSample(seconds=0.5, cpu_mhz=2400)])
    codes = [warning.code for warning in made.warnings]
    assert CLOCKS_THROTTLED in codes
    assert "cool" in next(w.message for w in made.warnings if w.code == CLOCKS_THROTTLED)


def test_steady_clocks_are_not_warned():
    made = row(clocks=[ClockSample(seconds=0.0, cpu_mhz=3000), ClockSample(seconds=0.5, cpu_mhz=2990)])
    assert CLOCKS_THROTTLED not in [warning.code for warning in made.warnings]
