"""The telemetry of one row: opened in the worker before the build, started just before the first timed step and
stopped just after the last (engine/timing.py), never inside a step."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from batchmark.results import ClockSample, EnergyReading
from batchmark.telemetry.clocks import ClockSampler, cpu_reading, gpu_reading
from batchmark.telemetry.energy import POWERCAP, EnergyWindow, load_nvml, open_meter, visible_gpu


class TimedWindow:
    """An energy meter's two readings and a clock sampler's thread around the timed steps."""

    def __init__(self, energy: EnergyWindow | None, energy_missing: str | None, sampler: ClockSampler,
                 clock: Callable[[], float] = time.perf_counter):
        self.energy_window, self.energy_missing, self.sampler, self.clock = energy, energy_missing, sampler, clock

    @classmethod
    def open(cls, device: str, data_parallel: bool = False, root: Path = POWERCAP,
             nvml: Any | None = None) -> "TimedWindow":
        """What this machine can read for a row on `device`: NVML only on a CUDA row (where the GPU is what
        matters), the CPU frequency always. A data-parallel row's energy would be every rank's meter summed: not
        measured."""
        readings = [reading] if (reading := cpu_reading()) is not None else []
        if device == "cuda":
            nvml = load_nvml() if nvml is None else nvml
            if not isinstance(nvml, str):
                try:
                    readings.append(gpu_reading(nvml, visible_gpu(nvml)))
                except Exception:  # no such GPU to NVML: its clocks are not sampled, the row still runs
                    pass
        sampler = ClockSampler(readings)
        if data_parallel:
            return cls(None, "not measured for a data-parallel row: each rank's meter would have to be summed", sampler)
        meter = open_meter(device, root, nvml)
        if isinstance(meter, str):
            return cls(None, meter, sampler)
        return cls(EnergyWindow(meter), None, sampler)

    def start(self) -> None:
        self.sampler.start()
        self._read(lambda window: window.start(self.clock()))  # last: nothing between it and the first step

    def stop(self, steps: int) -> None:
        self._read(lambda window: window.stop(self.clock(), steps))  # first: nothing between the last step and it
        self.sampler.stop()

    def _read(self, action: Callable[[EnergyWindow], None]) -> None:
        if self.energy_window is None:
            return
        try:
            action(self.energy_window)
        except Exception as error:  # a meter that stopped answering costs the row its energy, not its speed
            self.energy_window = None
            self.energy_missing = f"the energy meter failed during the row: {type(error).__name__}: {error}"

    @property
    def energy(self) -> EnergyReading | None:
        return self.energy_window.reading if self.energy_window is not None else None

    @property
    def clocks(self) -> list[ClockSample]:
        return self.sampler.samples
