"""The window around the timed steps: its readings bracket exactly the timed steps, never the warm-up."""

import pytest

from batchmark.engine.timing import StopRule, measure
from batchmark.telemetry.window import TimedWindow
from tests.telemetry.conftest import FakeNvml, write_domain


class CountingSession:
    """Each step adds 1 s to the clock and 100 J to a fake GPU's counter; the loss is the step's index."""

    def __init__(self, nvml, clock):
        self.nvml, self.clock, self.steps = nvml, clock, 0

    def step(self):
        self.steps += 1
        self.clock.now += 1.0
        self.nvml.energy_mj += 100_000
        return self.steps

    def synchronize(self):
        pass

    def read_loss(self, handle):
        return float(handle)


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_energy_brackets_the_timed_steps_only():
    fake, clock = FakeNvml(energy_mj=0), Clock()
    window = TimedWindow.open("cuda", nvml=fake)
    window.clock = clock
    session = CountingSession(fake, clock)
    measurement = measure(session, StopRule(warmup_steps=3, min_seconds=0, min_steps=4, max_steps=4), clock=clock,
                          window=window)
    assert len(measurement.step_seconds) == 4
    reading = window.energy
    assert (reading.joules, reading.seconds, reading.steps) == (pytest.approx(400.0), 4.0, 4)  # not the 3 warm-ups
    assert window.energy_missing is None


def test_no_meter_keeps_the_reason(tmp_path):
    window = TimedWindow.open("cpu", root=tmp_path / "none")
    window.start()
    window.stop(3)
    assert window.energy is None and "is absent" in window.energy_missing


def test_data_parallel_rows_are_not_metered(tmp_path):
    write_domain(tmp_path, "intel-rapl:0", "package-0", 0)
    window = TimedWindow.open("cpu", data_parallel=True, root=tmp_path)
    assert window.energy_window is None and "data-parallel" in window.energy_missing


def test_a_meter_that_fails_mid_row_costs_only_the_energy(tmp_path):
    folder = write_domain(tmp_path, "intel-rapl:0", "package-0", 0)
    window = TimedWindow.open("cpu", root=tmp_path)
    window.start()
    (folder / "energy_uj").unlink()
    window.stop(2)
    assert window.energy is None and "failed during the row" in window.energy_missing


def test_gpu_clocks_are_sampled_on_a_cuda_row(monkeypatch):
    monkeypatch.setattr("batchmark.telemetry.window.cpu_reading", lambda: None)
    fake = FakeNvml()
    window = TimedWindow.open("cuda", nvml=fake)
    window.start()
    fake.sm_mhz, fake.reasons = 1400, 0x4
    window.stop(1)
    assert window.clocks[0].gpu_sm_mhz == 1980 and window.clocks[-1].throttle_reasons == ["sw_power_cap"]
