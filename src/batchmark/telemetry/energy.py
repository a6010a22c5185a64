"""Energy over a row's timed steps: an NVIDIA GPU's total-energy counter (NVML), the CPU packages' RAPL counters,
or on Apple silicon the SoC's counters (zeus-apple-silicon, the part of zeus that reads them, without root).

A meter is read once just before the first timed step and once just after the last, in the worker (engine/timing.py
calls the window's start and stop outside every step), so nothing is added to a step's time and the energy is the
work of exactly those steps and the short gaps between them.

Why not zeus (`ZeusMonitor`), which covers the same meters: it pulls pandas, scikit-learn, amdsmi, tyro and httpx
into every install of a benchmark; its RAPL reader tracks wraparound with a polling process that would run beside
the steps it measures, competing for the CPU; and it synchronizes only torch, JAX and CuPy, where our sessions
synchronize themselves (TensorFlow and MLX included). Two readings of two counters are a few lines: NVML through
`nvidia-ml-py` (NVIDIA's kept binding, the `nvml` extra), RAPL from sysfs. Apple's counters need IOReport from
native code, which zeus keeps as its own small package, `zeus-apple-silicon` (the `apple-energy` extra): that one is
used as it is.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from batchmark.results import EnergyReading

POWERCAP = Path("/sys/class/powercap")
# A CPU package's domain: `intel-rapl:0`, also on AMD (the kernel names AMD's RAPL the same). Sub-domains
# (`intel-rapl:0:0`, cores and uncore) are inside their package's count and would count twice.
PACKAGE_DOMAIN = re.compile(r"intel-rapl:\d+")


class Meter(Protocol):
    """A cumulative energy counter: `read` its raw state, `joules` between two states."""

    name: str
    domains: list[str]

    def read(self) -> tuple[int, ...]: ...

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float: ...


@dataclass
class RaplMeter:
    """The CPU packages' RAPL counters (microjoules), which wrap to zero at `max_energy_range_uj`: a window shorter
    than one wrap (about 260 kJ, over 20 minutes at 200 W, far longer than a row) is corrected exactly."""

    folders: list[Path]
    ranges: list[int]  # each counter's max_energy_range_uj
    domains: list[str]
    name: str = "rapl"

    def read(self) -> tuple[int, ...]:
        return tuple(int((folder / "energy_uj").read_text()) for folder in self.folders)

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        total = 0
        for start, end, wrap in zip(before, after, self.ranges):
            total += end - start if end >= start else end + wrap - start
        return total / 1e6


@dataclass
class NvmlMeter:
    """One GPU's total energy since the driver loaded, in millijoules (Volta and newer)."""

    nvml: Any  # the pynvml module
    handle: Any
    domains: list[str]
    name: str = "nvml"

    def read(self) -> tuple[int, ...]:
        return (int(self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)),)

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        return (after[0] - before[0]) / 1e3


# What an Apple silicon window reports, in millijoules: the CPU clusters, the GPU, the Neural Engine and the DRAM,
# the whole SoC a Mac's training step runs on (MLX and PyTorch's MPS share it). GPU SRAM is inside the GPU's count.
APPLE_PARTS = ("cpu_total_mj", "gpu_mj", "ane_mj", "dram_mj")
APPLE_WINDOW = "batchmark-timed-steps"


@dataclass
class AppleSiliconMeter:
    """Apple silicon's energy counters, through zeus-apple-silicon (IOReport, no root): its monitor measures
    windows rather than exposing a running counter, so the first read opens a window and the second closes it and
    returns the window's total; the difference of the two is that total."""

    monitor: Any  # zeus_apple_silicon.AppleEnergyMonitor
    domains: list[str]
    name: str = "apple"
    open: bool = False

    def read(self) -> tuple[int, ...]:
        if not self.open:
            self.monitor.begin_window(APPLE_WINDOW)
            self.open = True
            return (0,)
        metrics = self.monitor.end_window(APPLE_WINDOW)
        self.open = False
        return (int(sum(getattr(metrics, part, None) or 0 for part in APPLE_PARTS)),)

    def joules(self, before: tuple[int, ...], after: tuple[int, ...]) -> float:
        return (after[0] - before[0]) / 1e3


def apple_meter(library: Any | None = None) -> AppleSiliconMeter | str:
    """The SoC's meter on Apple silicon, or why there is none."""
    if library is None:
        try:
            import zeus_apple_silicon as library
        except ImportError:
            return ("no energy meter: zeus-apple-silicon is not installed (pip install 'batchmark[apple-energy]' on "
                    "an Apple silicon Mac)")
    try:
        monitor = library.AppleEnergyMonitor()
    except Exception as error:  # IOReport unavailable (an Intel Mac, a sandbox)
        return f"no energy meter: Apple's IOReport energy counters did not open ({error})"
    return AppleSiliconMeter(monitor, ["Apple SoC: CPU, GPU, ANE, DRAM"])


def rapl_meter(root: Path = POWERCAP) -> RaplMeter | str:
    """The packages' meter, or why there is none here."""
    if not root.is_dir():
        return f"no energy meter: {root} is absent (no RAPL here, as on most virtual machines)"
    packages = sorted((folder for folder in root.iterdir() if PACKAGE_DOMAIN.fullmatch(folder.name)),
                      key=lambda folder: int(folder.name.split(":")[1]))
    if not packages:
        return f"no energy meter: {root} has no RAPL package domain (intel-rapl:N)"
    try:
        ranges = [int((folder / "max_energy_range_uj").read_text()) for folder in packages]
        meter = RaplMeter(packages, ranges, [_domain_name(folder) for folder in packages])
        meter.read()
    except PermissionError:
        return (f"no energy meter: {root}/intel-rapl:*/energy_uj is readable by root only (since Linux 5.10); "
                f"`sudo chmod o+r {root}/intel-rapl:*/energy_uj` lets batchmark read it")
    except (OSError, ValueError) as error:
        return f"no energy meter: cannot read RAPL under {root}: {error}"
    return meter


def _domain_name(folder: Path) -> str:
    try:
        return (folder / "name").read_text().strip()
    except OSError:
        return folder.name


def load_nvml() -> Any | str:
    """pynvml, initialized, or why not."""
    try:
        import pynvml
    except ImportError:
        return "no energy meter: nvidia-ml-py is not installed (pip install 'batchmark[nvml]')"
    try:
        pynvml.nvmlInit()
    except Exception as error:  # NVMLError_LibraryNotFound, _DriverNotLoaded, ...: no NVIDIA driver here
        return f"no NVIDIA GPU: NVML did not start ({error})"
    return pynvml


def visible_gpu(nvml: Any) -> Any:
    """The NVML handle of the GPU a CUDA row runs on: the first of CUDA_VISIBLE_DEVICES (an index or a UUID), else
    GPU 0. NVML numbers GPUs in PCI order; CUDA does too where CUDA_DEVICE_ORDER=PCI_BUS_ID, and on one GPU."""
    first = os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0].strip() or "0"
    if first.isdigit():
        return nvml.nvmlDeviceGetHandleByIndex(int(first))
    return nvml.nvmlDeviceGetHandleByUUID(first)


def nvml_meter(nvml: Any) -> NvmlMeter | str:
    try:
        handle = visible_gpu(nvml)
        name = nvml.nvmlDeviceGetName(handle)
        meter = NvmlMeter(nvml, handle, [f"GPU: {name.decode() if isinstance(name, bytes) else name}"])
        meter.read()
    except Exception as error:  # NVMLError_NotSupported before Volta
        return f"no energy meter: this GPU's NVML has no total-energy counter ({error})"
    return meter


def open_meter(device: str, root: Path = POWERCAP, nvml: Any | None = None, apple: bool | None = None,
               apple_library: Any | None = None) -> Meter | str:
    """The meter that counts what a row on `device` uses, or the one-line reason there is none: the GPU's own
    counter for a CUDA row, the CPU packages' for a CPU row (they count the whole socket, other processes too), and
    on Apple silicon the SoC's for a CPU or MPS row (CPU and GPU share it). `apple` and `apple_library` stand in
    for the platform and zeus-apple-silicon in tests."""
    if device == "cuda":
        nvml = load_nvml() if nvml is None else nvml
        return nvml if isinstance(nvml, str) else nvml_meter(nvml)
    if apple or (apple is None and on_apple_silicon()):
        return apple_meter(apple_library) if device in ("cpu", "mps") else f"no energy meter read on {device}"
    if device == "cpu":
        return rapl_meter(root)
    return f"no energy meter read on {device} by batchmark yet"


def on_apple_silicon() -> bool:
    return sys.platform == "darwin" and platform.machine() == "arm64"


@dataclass
class EnergyWindow:
    """One meter's readings around the timed steps."""

    meter: Meter
    before: tuple[int, ...] | None = None
    reading: EnergyReading | None = None

    def start(self, now: float) -> None:
        self.started = now
        self.before = self.meter.read()

    def stop(self, now: float, steps: int) -> None:
        after = self.meter.read()
        if self.before is None or steps < 1 or now <= self.started:
            return
        self.reading = EnergyReading(meter=self.meter.name, domains=self.meter.domains,
                                     joules=self.meter.joules(self.before, after), seconds=now - self.started,
                                     steps=steps)
