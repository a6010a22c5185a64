"""Were the clocks steady while a row was timed? CPU frequency and, on NVIDIA, the SM clock, temperature and the
thermal or power throttle reasons, sampled from a thread during the timed steps.

A throttled machine measures a slower step than the same machine cool: the row is true of that moment but not of
the hardware. The thread sleeps between samples and each sample is a few sysfs or NVML reads (microseconds), so it
takes nothing measurable from the steps; it only runs between the window's start and stop (engine/timing.py).
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import psutil

from batchmark.results import ClockSample

SAMPLE_INTERVAL_SECONDS = 0.5  # a throttle lasts seconds; twice a second sees it without waking the CPU much
# A row of many minutes is thinned to every other sample, at half the rate from then on, each time it reaches this:
# a results file (and the leaderboard, which takes at most 1,000 items a list) stays small, and a throttle lasts
# long enough to stay in the thinned samples.
MAX_SAMPLES = 500
CLOCK_FALL = 0.10  # the clocks more than 10% below the row's start: a step measured at a different speed
CLOCKS_THROTTLED = "clocks_throttled"  # the row's warning code
# NVML's clock event reasons that mean the GPU slowed itself (nvml.h; the bits are ABI). The others (idle, an
# application clock setting, sync boost, the display clock) are not a throttle.
THROTTLE_REASONS = {0x4: "sw_power_cap", 0x8: "hw_slowdown", 0x20: "sw_thermal_slowdown",
                    0x40: "hw_thermal_slowdown", 0x80: "hw_power_brake_slowdown"}
NVML_CLOCK_SM = 1
NVML_TEMPERATURE_GPU = 0

Reading = Callable[[], dict]  # one sample's fields, without `seconds`


def cpu_reading() -> Reading | None:
    """The fastest core's MHz: idle cores clock down on their own, a throttle caps the busy ones too. None where
    psutil has no frequency (some VMs and containers)."""
    try:
        if not psutil.cpu_freq(percpu=True):
            return None
    except (AttributeError, NotImplementedError, OSError):
        return None
    return lambda: {"cpu_mhz": max(frequency.current for frequency in psutil.cpu_freq(percpu=True))}


def gpu_reading(nvml: Any, handle: Any) -> Reading:
    """The GPU's SM clock, temperature and active throttle reasons, from NVML."""
    events = getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None) or \
        nvml.nvmlDeviceGetCurrentClocksThrottleReasons  # renamed in NVML 12.2; the old name stays for old drivers

    def read() -> dict:
        mask = int(events(handle))
        return {"gpu_sm_mhz": float(nvml.nvmlDeviceGetClockInfo(handle, NVML_CLOCK_SM)),
                "gpu_temperature_c": float(nvml.nvmlDeviceGetTemperature(handle, NVML_TEMPERATURE_GPU)),
                "throttle_reasons": [name for bit, name in THROTTLE_REASONS.items() if mask & bit]}
    return read


class ClockSampler:
    """Samples `readings` every `interval` seconds from a daemon thread, between `start` and `stop`."""

    def __init__(self, readings: list[Reading], interval: float = SAMPLE_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.perf_counter):
        self.readings, self.interval, self.clock = readings, interval, clock
        self.samples: list[ClockSample] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sample(self) -> None:
        fields: dict = {}
        for reading in self.readings:
            try:
                fields.update(reading())
            except Exception:  # a reading that failed once (a driver hiccup) is a missing sample, not a failed row
                continue
        if fields:
            self.samples.append(ClockSample(seconds=self.clock() - self.started, **fields))
        if len(self.samples) >= MAX_SAMPLES:
            self.samples = self.samples[::2]  # the first, the row's start, stays
            self.interval *= 2

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def start(self) -> None:
        self.started = self.clock()
        if not self.readings:
            return
        self.sample()  # the row's start: what a fall is measured from
        self._thread = threading.Thread(target=self._run, name="batchmark-clocks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        self._thread = None
        self.sample()  # the row's end, however short it was


def throttling(samples: list[ClockSample]) -> str | None:
    """The stability warning's message when a clock fell more than CLOCK_FALL below its first sample or the GPU
    reported a thermal or power throttle; None when the clocks held."""
    found = []
    for field, what in (("cpu_mhz", "the CPU"), ("gpu_sm_mhz", "the GPU's SM clock")):
        values = [getattr(sample, field) for sample in samples if getattr(sample, field) is not None]
        if len(values) >= 2 and min(values[1:]) < (1 - CLOCK_FALL) * values[0]:
            found.append(f"{what} fell from {values[0]:.0f} to {min(values[1:]):.0f} MHz "
                         f"({min(values[1:]) / values[0] - 1:.0%})")
    reasons = list(dict.fromkeys(reason for sample in samples for reason in sample.throttle_reasons))
    if reasons:
        hottest = max((sample.gpu_temperature_c for sample in samples if sample.gpu_temperature_c is not None),
                      default=None)
        at = f" at up to {hottest:.0f} °C" if hottest is not None else ""
        found.append(f"the GPU throttled ({', '.join(reasons)}){at}")
    if not found:
        return None
    return (f"{'; '.join(found)} during the timed steps: this row measured a throttled machine; let it cool, check "
            f"its cooling and power limit (`nvidia-smi -q -d PERFORMANCE` on a GPU), or use the performance governor "
            f"(`cpupower frequency-set -g performance`), then rerun")
