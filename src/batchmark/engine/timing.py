"""The measurement loop: warm-up apart, then synchronized timed steps until the stop rule is met.

Every timed step is bracketed by the device's synchronization, and the loss is read back as a Python
float inside the bracket. On a device with asynchronous dispatch (CUDA, MPS, TensorFlow, JAX) a step
function returns as soon as its work is queued; without the sync and the read-back the clock would
measure the queueing, not the training.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol


class Session(Protocol):
    """One prepared (workload, plan) in a framework: what the loop needs to time it."""

    def step(self) -> Any:
        """Run one training step; return a handle to its loss."""

    def synchronize(self) -> None:
        """Block until the device has finished all queued work."""

    def read_loss(self, handle: Any) -> float:
        """The loss as a Python float (forces the value off the device)."""


@dataclass(frozen=True)
class StopRule:
    """Adaptive sample count: both minimums must be reached; the maximum always wins."""

    warmup_steps: int
    min_seconds: float
    min_steps: int
    max_steps: int

    def __post_init__(self):
        if not (0 <= self.warmup_steps and 1 <= self.min_steps <= self.max_steps and self.min_seconds >= 0):
            raise ValueError(f"inconsistent stop rule: {self}")

    def done(self, step_seconds: list[float]) -> bool:
        count = len(step_seconds)
        if count >= self.max_steps:
            return True
        return count >= self.min_steps and sum(step_seconds) >= self.min_seconds


@dataclass
class Measurement:
    warmup_seconds: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # of the timed steps, to show training really ran


Progress = Callable[[str], None]


def timed_step(session: Session, clock: Callable[[], float]) -> tuple[float, float]:
    """One synchronized step: (seconds, loss)."""
    session.synchronize()  # nothing queued earlier may be billed to this step
    start = clock()
    handle = session.step()
    session.synchronize()
    loss = session.read_loss(handle)
    return clock() - start, loss


def measure(session: Session, rule: StopRule, clock: Callable[[], float] = time.perf_counter,
            progress: Progress = lambda message: None) -> Measurement:
    result = Measurement()
    for index in range(rule.warmup_steps):
        progress(f"warm-up {index + 1}/{rule.warmup_steps}")
        seconds, _ = timed_step(session, clock)
        result.warmup_seconds.append(seconds)
    while not rule.done(result.step_seconds):
        progress(f"step {len(result.step_seconds) + 1} ({sum(result.step_seconds):.1f}s of {rule.min_seconds:g}s)")
        seconds, loss = timed_step(session, clock)
        result.step_seconds.append(seconds)
        result.losses.append(loss)
    return result
