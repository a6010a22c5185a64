"""The JSON API's response bodies, as FastAPI documents them in its OpenAPI spec."""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict

from batchmark.machine import Fingerprint
from batchmark.plans import Plan
from batchmark.results import ResultsFile


class Public(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class SubmitResponse(Public):
    stored: bool  # False: this run was submitted before, and nothing new was stored
    run_id: str
    verified: bool  # False: kept off the leaderboard by default, for the reasons given
    reasons: list[str]
    url: str  # the run's page


class LeaderboardEntry(Public):
    rank: int
    machine: str  # the machine's key in URLs (/machines/KEY)
    hostname: str
    cpu_model: str
    gpus: str
    run_id: str
    verified: bool
    workload: str
    framework: str
    plan_label: str
    plan: Plan
    plan_source: Optional[str]  # "static", "tuned" (measured by batchmark tune), or None for switches as typed
    device: str
    precision: str
    batch_size: int
    image_size: int
    median: float  # seconds per batch
    ci_low: float
    ci_high: float
    n: int
    samples_per_second: float
    achieved_flops_per_second: Optional[float]
    percent_of_peak: Optional[float]
    # Samples per joule over the row's timed steps (NVML or RAPL); None where the machine had no energy meter.
    samples_per_joule: Optional[float] = None


class Size(Public):
    batch_size: int
    image_size: int
    rows: int


class Leaderboard(Public):
    workload: str
    batch_size: int
    image_size: int
    include_unverified: bool
    sizes: list[Size]  # every batch × image size measured for this workload, with a leaderboard each
    entries: list[LeaderboardEntry]


class WorkloadSummary(Public):
    workload: str
    description: str
    batch_size: int  # the standard size its leaderboard shows first
    image_size: int
    machines: int


class RunListing(Public):
    run_id: str
    machine: str
    hostname: str
    started_at: str
    submitted_at: str
    verified: bool
    reasons: list[str]
    profile: str
    rows: int
    failed: int
    workloads: list[str]
    frameworks: list[str]


class MachineSummary(Public):
    machine: str
    hostname: str
    cpu_model: str
    gpus: str
    logical_cores: Optional[int]
    memory_bytes: Optional[int]
    runs: int
    last_submitted_at: str


class MachineDetail(Public):
    machine: MachineSummary
    fingerprint: Fingerprint  # of its latest submitted run
    runs: list[RunListing]
    best: list[LeaderboardEntry]  # its best row per workload and size, with % of its measured peak


class RunDetail(Public):
    run: ResultsFile  # with achieved FLOP/s, % of peak and speedups derived
    machine: str
    submitted_at: str
    verified: bool
    reasons: list[str]


class ComparedPair(Public):
    workload: str
    batch_size: int
    image_size: int
    a: LeaderboardEntry
    b: LeaderboardEntry
    ratio: float  # b's median ÷ a's median: below 1, b is faster


class MachineComparison(Public):
    a: MachineSummary
    b: MachineSummary
    pairs: list[ComparedPair]
