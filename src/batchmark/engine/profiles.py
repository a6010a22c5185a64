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


PROFILES = {
    # 2 warm-up steps: the first compiles and allocates, the second catches a recompile (autograd,
    # optimizer state); a third would cost up to 30 s per row on a 2-core CPU, and the slow-first-step
    # warning says when two were not enough. 10 s of timed work puts the CI of the median within a few
    # % on a quiet machine; 5 steps is the least a bootstrap CI means anything with.
    "standard": Profile("standard", warmup_steps=2, min_seconds=10.0, min_steps=5, max_steps=50,
                        timeout_seconds=1200.0, compile=True),
    # For smoke runs and tests: small images, few steps, no compilation (five cold compiles alone
    # would take 3-6 minutes on 2 cores). The plan column shows compile=off. Fast workloads still get
    # 5-10 steps from the 2 s minimum; CycleGAN (256x256 at least, ~7 s a step here) gets 3 and says so.
    "quick": Profile("quick", warmup_steps=1, min_seconds=2.0, min_steps=3, max_steps=10,
                     timeout_seconds=300.0, compile=False),
}
