"""Fakes of the meters: a powercap tree in a temporary folder and an NVML module."""

from pathlib import Path

import pytest


def write_domain(root: Path, name: str, label: str, energy_uj: int, max_range_uj: int = 1_000_000) -> Path:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "name").write_text(f"{label}\n")
    (folder / "energy_uj").write_text(f"{energy_uj}\n")
    (folder / "max_energy_range_uj").write_text(f"{max_range_uj}\n")
    return folder


class FakeNvml:
    """The parts of pynvml the telemetry calls, with counters a test moves."""

    class NVMLError(Exception):
        pass

    def __init__(self, energy_mj=10_000, supported=True):
        self.energy_mj, self.supported = energy_mj, supported
        self.sm_mhz, self.temperature, self.reasons = 1980, 60, 0
        self.handles_asked = []

    def nvmlInit(self):
        pass

    def nvmlDeviceGetHandleByIndex(self, index):
        self.handles_asked.append(index)
        return f"gpu{index}"

    def nvmlDeviceGetHandleByUUID(self, uuid):
        self.handles_asked.append(uuid)
        return uuid

    def nvmlDeviceGetName(self, handle):
        return b"NVIDIA H200"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.supported:
            raise self.NVMLError("Not Supported")
        return self.energy_mj

    def nvmlDeviceGetClockInfo(self, handle, clock):
        return self.sm_mhz

    def nvmlDeviceGetTemperature(self, handle, sensor):
        return self.temperature

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle):
        return self.reasons


@pytest.fixture
def nvml():
    return FakeNvml()
