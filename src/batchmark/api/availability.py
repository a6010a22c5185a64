"""What can be measured here, read without starting any framework: `batchmark list` and `batchmark info`."""

from __future__ import annotations

from dataclasses import dataclass

from batchmark.api.plugins import load_plugins
from batchmark.engine.plan import accelerated, baseline
from batchmark.frameworks import FRAMEWORKS, installed_version
from batchmark.machine import Fingerprint, GpuFingerprint, apple_gpu, cpu_has_fast_bf16, fingerprint, nvidia_gpus
from batchmark.plans import DeviceSupport, Plan
from batchmark.workloads.registry import SUITES, Workload, get_workload, workload_names


@dataclass
class FrameworkStatus:
    name: str
    version: str | None  # None: not installed (or something it needs is missing)
    install: str  # the command that installs it


@dataclass
class Inventory:
    workloads: list[Workload]
    frameworks: list[FrameworkStatus]
    cpu_bf16: bool  # bf16 arithmetic in the CPU's hardware
    gpus: list[GpuFingerprint]  # as the drivers report them; each framework is asked again at run time
    plans: list[tuple[str, Plan]]  # (name, plan) for baseline and accelerated per framework, on the best device
    suites: dict[str, str]  # `run --suite` name -> what it holds


def framework_statuses() -> list[FrameworkStatus]:
    return [FrameworkStatus(name, installed_version(name), framework.install) for name, framework in FRAMEWORKS.items()]


def inventory() -> Inventory:
    load_plugins()
    gpus = nvidia_gpus() + apple_gpu()
    bf16 = cpu_has_fast_bf16()
    best = "cuda" if nvidia_gpus() else "mps" if apple_gpu() else "cpu"
    # What the drivers say, without starting a framework: each one's own answer can differ at run time.
    support = DeviceSupport(best, bf16=bf16 if best == "cpu" else best == "cuda", fp16=best != "cpu",
                            tf32=best == "cuda", compile=best != "mps")
    plans = [(name, plan(framework, support)) for framework in FRAMEWORKS
             for name, plan in (("baseline", baseline), ("accelerated", accelerated))]
    return Inventory(workloads=[get_workload(name) for name in workload_names()], frameworks=framework_statuses(),
                     cpu_bf16=bf16, gpus=gpus, plans=plans, suites=dict(SUITES))


def machine_info() -> tuple[Fingerprint, list[FrameworkStatus]]:
    """This machine's fingerprint and the frameworks batchmark can drive here."""
    return fingerprint(), framework_statuses()
