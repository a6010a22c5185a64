"""How long to measure: the standard profile for real numbers, quick for smoke runs and tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    name: str
    warmup_steps: int  # untimed for the statistics; the first includes compilation
    min_seconds: float  # keep stepping until this much timed work ...
    min_steps: int  # ... and at least this many steps ...
    max_steps: int  # ... but never more than this many
    timeout_seconds: float  # per (workload, plan) worker, compilation included
    compile: bool  # whether the accelerated plan compiles; compiling costs 30-80 s per model here
    target_precision: float | None = None  # stop once the median's 95% CI is within this fraction ...
    max_seconds: float | None = None  # ... or once this much timed work is done, whichever comes first
    budget_minutes: float | None = None  # the seed suite's wall-clock budget by default (None: unlimited) ...
    modern_budget_minutes: float | None = None  # ... plus this when the run includes the transformers

    def default_budget_minutes(self, suites: set[str]) -> float | None:
        """The default wall-clock budget of a run that includes workloads of these suites."""
        shares = {"seed": self.budget_minutes, "modern": self.modern_budget_minutes}
        chosen = [shares[suite] for suite in suites if suite in shares]
        if not chosen or any(share is None for share in chosen):
            return None if chosen else self.budget_minutes
        return sum(chosen)


PROFILES = {
    # 2 warm-up steps: the first compiles and allocates, the second catches a recompile (autograd,
    # optimizer state); a third would cost up to 30 s per row on a 2-core CPU, and the slow-first-step
    # warning says when two were not enough. Then steps until the median's 95% CI is within ±3% (5 steps at
    # least: fewer make the bootstrap CI mean little), or until 30 s of timed work, whichever comes first: a
    # quiet machine is done in 5 steps, a noisy one gets up to 30 s and the row says what precision it reached.
    # The seed suite as a whole keeps to 15 minutes unless told otherwise (`--budget`); GPT-2 and ViT-B/16,
    # whose standard steps take 10-30 s each on a 2-core CPU, add 20.
    "standard": Profile("standard", warmup_steps=2, min_seconds=0.0, min_steps=5, max_steps=50,
                        timeout_seconds=1200.0, compile=True, target_precision=0.03, max_seconds=30.0,
                        budget_minutes=15.0, modern_budget_minutes=20.0),
    # For smoke runs and tests: small images, few steps, no compilation (five cold compiles alone
    # would take 3-6 minutes on 2 cores). The plan column shows compile=off. Steps stop at ±5% or 2 s of
    # timed work; CycleGAN (256x256 at least, seconds a step on a CPU) gets 3 and says so. 3 minutes in all.
    "quick": Profile("quick", warmup_steps=1, min_seconds=0.0, min_steps=3, max_steps=10,
                     timeout_seconds=300.0, compile=False, target_precision=0.05, max_seconds=2.0,
                     budget_minutes=3.0, modern_budget_minutes=3.0),
}
