"""Tuned plans, cached per (machine fingerprint, framework and version, workload, batch shape).

A plan measured on one machine with one framework build says nothing about another, so the key holds all
of them: a changed fingerprint or framework version simply finds no entry, and the plan is tuned afresh.
One JSON file per key under the user data directory, written atomically.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import platformdirs
from pydantic import BaseModel, Field, ValidationError

from batchmark.files import write_atomically
from batchmark.plans import Plan
from batchmark.tune.search import CandidateVerdict, Trial


class TuneKey(BaseModel):
    fingerprint: str  # batchmark.calibration.fingerprint_hash: hardware and torch version
    framework: str
    framework_version: str
    workload: str  # a registered workload, or "module:function" / a model's identity for user models
    batch_shape: str  # e.g. "32x224" for the built-in workloads, the input shapes for user models

    def digest(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:32]


class CandidateSummary(BaseModel):
    plan: Plan
    stage: str
    verdict: CandidateVerdict
    reason: str
    median_seconds: float | None
    steps: int
    # Its short trials as measured, so that a search cut short by its budget can go on from them; empty in entries
    # cached before they were kept.
    trials: list[Trial] = Field(default_factory=list)


class TunedPlan(BaseModel):
    key: TuneKey
    plan: Plan  # the chosen plan, every switch
    baseline_plan: Plan
    # The baseline's median at the standard step count, measured right before the chosen plan's (in entries
    # cached before that was so, and when the baseline won outright, the median of its short trials).
    baseline_seconds: float
    seconds: float  # median of the chosen plan at the standard step count (the baseline's when it was chosen)
    speedup: float  # baseline_seconds / seconds
    # True when both medians are standard measurements; False marks the speedup as a screening estimate.
    measured_alike: bool = False
    speedup_ci: tuple[float, float] | None = None  # 95% bootstrap CI of the speedup, when measured alike
    tuned_at: str
    tuning_seconds: float
    budget_seconds: float
    candidates: list[CandidateSummary] = Field(default_factory=list)
    pruned: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def untried(self) -> int:
        """Candidates the search could not afford (a run's search may run out of budget first)."""
        return sum(1 for candidate in self.candidates if candidate.verdict == "not tried")

    @property
    def complete(self) -> bool:
        """Whether every candidate was measured."""
        return self.untried == 0

    def earlier_trials(self) -> dict[Plan, list[Trial]]:
        """The short trials this search measured, per plan: what a search of the same key need not measure again.
        Not the plan it chose: every new candidate must beat that one as measured now, not in another session
        (MobileNetV3's medians here drifted by up to 20% from one process to the next)."""
        return {candidate.plan: list(candidate.trials) for candidate in self.candidates
                if candidate.trials and candidate.plan != self.plan}


def directory() -> Path:
    return platformdirs.user_data_path("batchmark") / "tuned"


def load(key: TuneKey) -> TunedPlan | None:
    try:
        found = TunedPlan.model_validate_json((directory() / f"{key.digest()}.json").read_text())
    except (OSError, ValidationError, json.JSONDecodeError):
        return None
    return found if found.key == key else None


def store(tuned: TunedPlan) -> Path:
    return write_atomically(directory() / f"{tuned.key.digest()}.json", tuned.model_dump_json(indent=2))
