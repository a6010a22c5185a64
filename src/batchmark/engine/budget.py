"""The suite's wall-clock budget: how much timed work each row may have, and which rows cannot be afforded.

A row costs a fixed part (worker start, build, warm-up, compile, FLOP counting) and its timed steps. The fixed
part is estimated from the rows already finished (the same workload's first, since models differ by 10x), the
timed part is capped: each row stops at its precision target or at its share of what is left, whichever comes
first. A row that reaches its target early leaves its unused share to the rows after it, so the budget goes
where the noise is. A row whose estimated minimum (fixed part plus its minimum steps) no longer fits is not
started, and the run says so; a row that overruns (a compile longer than all that is left) is stopped by its
worker's time-out at the budget's end, so the suite never runs past its budget by more than a worker's exit.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable

# Before any row has finished nothing is known about this machine; a first guess at a row's fixed part. It
# only matters when the budget is already tight at the first row.
FIRST_GUESS_OVERHEAD_SECONDS = 20.0
# Timed steps in one short trial of an in-run search (after the row's own warm-up): two rank plans whose times
# differ by more than the noise. The search (tune/search.py) and the budget that pays for it share this.
SHORT_TRIAL_STEPS = 2


@dataclass(frozen=True)
class RowCost:
    """What one finished row cost: its whole wall time, and the timed steps in it."""

    workload: str
    wall_seconds: float
    timed_seconds: float
    step_seconds: float  # its median step

    @property
    def fixed_seconds(self) -> float:
        return max(0.0, self.wall_seconds - self.timed_seconds)


@dataclass(frozen=True)
class Allowance:
    """What one row may spend: its cap on timed work, and the time-out that kills its worker."""

    max_seconds: float | None  # None: the profile's own cap
    timeout_seconds: float | None  # None: the profile's own time-out


@dataclass
class SuiteBudget:
    seconds: float | None  # None: no budget
    clock: Callable[[], float] = time.monotonic
    costs: list[RowCost] = field(default_factory=list)
    started: float | None = None

    def start(self) -> None:
        """From now on (the first call only: the API starts it before probing the frameworks, and the engine
        calls it again when the rows start)."""
        if self.started is None:
            self.started = self.clock()

    @property
    def limited(self) -> bool:
        return self.seconds is not None

    def spent(self) -> float:
        return self.clock() - self.started if self.started is not None else 0.0

    def left(self) -> float:
        return math.inf if self.seconds is None else self.seconds - self.spent()

    def record(self, cost: RowCost) -> None:
        self.costs.append(cost)

    # -- estimates ---------------------------------------------------------------------------------------------
    def fixed_estimate(self, workload: str) -> float:
        same = [cost.fixed_seconds for cost in self.costs if cost.workload == workload]
        known = same or [cost.fixed_seconds for cost in self.costs]
        return statistics.median(known) if known else FIRST_GUESS_OVERHEAD_SECONDS

    def step_estimate(self, workload: str) -> float | None:
        """The workload's median step in this run; for one not run yet, the median of all rows' (a guess that
        may be 10x off either way, which is why the rows of one workload run together)."""
        same = [cost.step_seconds for cost in self.costs if cost.workload == workload]
        known = same or [cost.step_seconds for cost in self.costs]
        return statistics.median(known) if known else None

    def minimum_estimate(self, workload: str, min_steps: int) -> float:
        """The least one more row of `workload` can cost: its fixed part and its minimum steps."""
        step = self.step_estimate(workload)
        return self.fixed_estimate(workload) + (min_steps * step if step is not None else 0.0)

    # -- decisions ---------------------------------------------------------------------------------------------
    def affordable(self, workload: str, min_steps: int) -> bool:
        return self.left() >= self.minimum_estimate(workload, min_steps)

    def allowance(self, workload: str, remaining: list[str], min_steps: int, profile_cap: float | None,
                  profile_timeout: float) -> Allowance:
        """The allowance of the next row, of `workload`, with `remaining` (this row's workload first) still to
        run: the time left after every remaining row's minimum, shared out evenly as extra timed work on top of
        this row's own minimum steps, never above the profile's cap."""
        if not self.limited:
            return Allowance(None, None)
        left = self.left()
        reserved = sum(self.minimum_estimate(name, min_steps) for name in remaining)
        spare = max(0.0, left - reserved) / max(1, len(remaining))
        step = self.step_estimate(workload)
        own_minimum = min_steps * step if step is not None else 0.0
        cap = own_minimum + spare
        if profile_cap is not None:
            cap = min(cap, profile_cap)
        return Allowance(max_seconds=cap, timeout_seconds=max(1.0, min(profile_timeout, left)))

    def trial_estimate(self, workload: str) -> float | None:
        """What one short trial of another plan of `workload` costs: a row's fixed part (start, build, warm-up)
        and its short steps; None before any row of it has run."""
        step = next((cost.step_seconds for cost in reversed(self.costs) if cost.workload == workload), None)
        return None if step is None else self.fixed_estimate(workload) + SHORT_TRIAL_STEPS * step

    def screening_seconds(self, workload: str, pending_rows: list[str], pending_screens: int,
                          min_steps: int) -> float:
        """What the in-run tuning of `workload` may spend: what is left after every pending row's minimum,
        shared among the tunings still to do, and half of that, so that the rows keep time for more steps.
        Unless that half is too little for even one trial of one plan and the whole share is not: then it is
        one trial's worth (with a fifth to spare), since a search that can measure nothing only spends its
        share on the plain framework's stand-in, while one trial can find the plan (the first search of a run,
        before the rows' costs were known, got 18 s where ResNet50V2's trial needed about 20)."""
        if not self.limited:
            return math.inf
        reserved = sum(self.minimum_estimate(name, min_steps) for name in pending_rows)
        share = max(0.0, self.left() - reserved) / max(1, pending_screens)
        trial = self.trial_estimate(workload)
        if trial is not None and share / 2 < 1.2 * trial <= share:
            return 1.2 * trial
        return share / 2
