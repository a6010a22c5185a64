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

from batchmark.engine.stats import relative_precision


class Session(Protocol):
    """One prepared (workload, plan) in a framework: what the loop needs to time it."""

    def step(self) -> Any:
        """Run one training step; return a handle to its loss."""

    def synchronize(self) -> None:
        """Block until the device has finished all queued work."""

    def read_loss(self, handle: Any) -> float:
        """The loss as a Python float (forces the value off the device)."""


# "precision", "time cap", "max steps", "steps" (a fixed count, or the minimums alone), "clearly losing", or
# OVER_TIME_CAP
StopReason = str
# A row whose warm-up and minimum steps cannot fit the time it may take: it stops with the steps it measured.
OVER_TIME_CAP = "over the time cap"


@dataclass(frozen=True)
class StopRule:
    """When to stop timing steps. The minimums must be reached and the maximum always wins; in between, with a
    `target_precision`, a row stops as soon as its median is known well enough (the 95% CI's half-width within
    that fraction of the median) or when its timed work reaches `max_seconds`, whichever comes first. A quiet
    machine is measured in few steps; a noisy one gets more, up to the cap, and the row reports the precision it
    reached either way."""

    warmup_steps: int
    min_seconds: float
    min_steps: int
    max_steps: int
    target_precision: float | None = None  # relative half-width of the median's 95% CI, e.g. 0.03
    max_seconds: float | None = None  # cap on the timed work when the target is not reached
    # The tuner's screening: a timed step slower than this marks the plan as clearly losing, and it stops there.
    give_up_above: float | None = None
    # The time the row's steps may take in all, warm-up included (a framework whose steps can take minutes): when
    # the steps so far say that the rest of the warm-up and the minimum steps cannot fit, timing stops there.
    row_seconds: float | None = None

    def __post_init__(self):
        if not (0 <= self.warmup_steps and 1 <= self.min_steps <= self.max_steps and self.min_seconds >= 0):
            raise ValueError(f"inconsistent stop rule: {self}")
        if self.target_precision is not None and not 0 < self.target_precision < 1:
            raise ValueError(f"target precision must be a fraction in (0, 1): {self}")

    def stop_reason(self, step_seconds: list[float], precision: float | None = None) -> StopReason | None:
        """Why timing stops after these steps, or None to take another. `precision` is their relative_precision
        when the caller has it already (a bootstrap: not worth computing twice between two steps)."""
        count = len(step_seconds)
        if count >= self.max_steps:
            return "max steps"
        if count < self.min_steps or sum(step_seconds) < self.min_seconds:
            return None
        if self.target_precision is None:
            return "steps"
        if (relative_precision(step_seconds) if precision is None else precision) <= self.target_precision:
            return "precision"
        if self.max_seconds is not None and sum(step_seconds) >= self.max_seconds:
            return "time cap"
        return None

    def done(self, step_seconds: list[float]) -> bool:
        return self.stop_reason(step_seconds) is not None

    def cannot_fit(self, warmup_seconds: list[float], step_seconds: list[float]) -> bool:
        """Whether the steps left to take (the warm-up's, then the minimum timed ones), at the last step's pace,
        would end past `row_seconds`."""
        if self.row_seconds is None or not (warmup_seconds or step_seconds):
            return False
        left = self.warmup_steps - len(warmup_seconds) + max(self.min_steps - len(step_seconds), 0)
        if left <= 0:
            return False
        last = (step_seconds or warmup_seconds)[-1]
        return sum(warmup_seconds) + sum(step_seconds) + left * last > self.row_seconds


@dataclass
class Measurement:
    warmup_seconds: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)  # of the timed steps, to show training really ran
    stopped_by: StopReason | None = None


Progress = Callable[[str], None]


class Window(Protocol):
    """What watches the timed steps from outside them (telemetry/window.py: energy, clocks): started just before
    the first timed step and stopped just after the last, never inside one."""

    def start(self) -> None: ...

    def stop(self, steps: int) -> None: ...


def timed_step(session: Session, clock: Callable[[], float]) -> tuple[float, float]:
    """One synchronized step: (seconds, loss)."""
    session.synchronize()  # nothing queued earlier may be billed to this step
    start = clock()
    handle = session.step()
    session.synchronize()
    loss = session.read_loss(handle)
    return clock() - start, loss


def measure(session: Session, rule: StopRule, clock: Callable[[], float] = time.perf_counter,
            progress: Progress = lambda message: None,
            slowest: Callable[[float], float] = lambda seconds: seconds, window: Window | None = None) -> Measurement:
    """Warm-up, then timed steps until `rule` stops them. `slowest` turns this process's time for a step into the
    slowest process's, for a step that several processes took together (the ranks of a data-parallel row): the
    step is not over until they all are, and every rank then stops at the same step. `window` brackets the timed
    steps."""
    result = Measurement()
    for index in range(rule.warmup_steps):
        progress(f"warm-up {index + 1}/{rule.warmup_steps}")
        seconds, _ = timed_step(session, clock)
        result.warmup_seconds.append(slowest(seconds))
        if rule.cannot_fit(result.warmup_seconds, result.step_seconds):
            result.stopped_by = OVER_TIME_CAP
            return result
    if window is not None:
        window.start()
    while True:
        precision = current_precision(result.step_seconds, rule)
        if (reason := rule.stop_reason(result.step_seconds, precision)) is not None:
            break
        if rule.cannot_fit(result.warmup_seconds, result.step_seconds):
            reason = "time cap" if result.step_seconds else OVER_TIME_CAP
            break
        progress(step_progress(result.step_seconds, rule, precision))
        seconds, loss = timed_step(session, clock)
        seconds = slowest(seconds)
        result.step_seconds.append(seconds)
        result.losses.append(loss)
        if rule.give_up_above is not None and seconds > rule.give_up_above:
            reason = "clearly losing"
            break
    if window is not None:
        window.stop(len(result.step_seconds))
    result.stopped_by = reason
    return result


def current_precision(step_seconds: list[float], rule: StopRule) -> float | None:
    """The steps' relative precision when the rule targets one and there are two steps to bootstrap, else None."""
    if rule.target_precision is None or len(step_seconds) < 2:
        return None
    return relative_precision(step_seconds)


def step_progress(step_seconds: list[float], rule: StopRule, precision: float | None = None) -> str:
    """What the progress line shows between steps: how many, how much time, and how precise so far."""
    done = f"step {len(step_seconds) + 1} ({sum(step_seconds):.1f}s"
    if precision is not None:
        return f"{done}, ±{precision:.1%} of a ±{rule.target_precision:.0%} target)"
    return f"{done} of {rule.min_seconds:g}s)" if rule.min_seconds else f"{done})"
