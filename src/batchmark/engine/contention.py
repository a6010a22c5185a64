"""Was the machine quiet while something was measured? Other processes' share of its CPU time, from the
kernel's counters before and after, less what our own measuring child used.

A peak measured beside a test suite came out at 87 GFLOP/s where the idle machine reached 183: every % of peak
after it was 2.1x too high. A CPU counts the time others used directly; a GPU's peak suffers from other
processes too, and on a virtual machine so does the hypervisor's `steal` time, which counts here as others'.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import psutil

BUSY_FIELDS = ("user", "nice", "system", "irq", "softirq", "steal")  # guest time is inside user already


def _busy(times) -> float:
    return sum(getattr(times, name, 0.0) for name in BUSY_FIELDS)


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


@dataclass
class Window:
    """Opened before the measurement, closed after its child process has been waited for."""

    started: float
    busy: float
    children: float
    load_average: float  # 1-minute, at the start: what was already running

    @classmethod
    def open(cls) -> "Window":
        return cls(time.monotonic(), _busy(psutil.cpu_times()), _children_cpu(), psutil.getloadavg()[0])

    def others_share(self) -> float:
        """Other processes' CPU time during the window, as a share of all the CPU time the machine had."""
        wall = time.monotonic() - self.started
        ours = _children_cpu() - self.children
        others = _busy(psutil.cpu_times()) - self.busy - ours
        return max(0.0, others) / max(wall * (psutil.cpu_count() or 1), 1e-9)
