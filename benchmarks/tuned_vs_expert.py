"""Is the tuned plan at least as fast as every single configuration an expert would try by hand? Every expert
configuration and the tuned plan measured as rows of one run, side by side, then the table: medians with
CIs, each configuration's ratio to eager fp32, tuned against the best expert configuration, the geometric
mean of tuned ÷ eager fp32 over the workloads, and % of the calibrated peak.

The expert configurations (each one switch or a well-known pair, on top of the plain framework):
PyTorch: eager channels_last, torch.compile default, compile + channels_last, compile contiguous, bf16
autocast + channels_last, and each runtime switch on its own (allocator, OpenMP wait policy and binding,
fused and foreach Adam). TensorFlow: Keras default, Keras XLA, mixed_bfloat16, oneDNN off, and the allocators.
Switches this machine cannot run (bf16 without it in hardware, an allocator not installed) are left out and
listed. The tuned plan is `batchmark tune`'s, measured first (its time is printed) unless cached.

Run: .venv/bin/python benchmarks/tuned_vs_expert.py [--workloads a,b (default: the seed suite)] [--frameworks torch,tensorflow]
     [--tune-budget 5x] [--expert PLAN ...] [--results FILE]   (an earlier run's results: print its table)
An AVX2 CPU without bf16, on an AVX-512 one: ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2
MKL_ENABLE_INSTRUCTIONS=AVX2 in the environment (the fingerprint records the caps, so the calibration and the
tuned plans are the capped machine's own). TORCHINDUCTOR_CACHE_DIR=an empty folder makes the compiles cold.
Nothing else may run on the machine meanwhile: on 2 cores a second process makes the numbers garbage.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import batchmark
from batchmark.engine.stats import median_ratio_ci
from batchmark.frameworks.runtime import available_allocators
from batchmark.machine import cpu_has_fast_bf16, fingerprint
from batchmark.results import ResultsFile, load_results
from batchmark.tune.workload import switches
from batchmark.workloads.registry import workload_names

EXPERT = {
    "torch": ["channels_last=true", "compile=default", "compile=default,channels_last=true",
              "precision=bf16,channels_last=true", "optimizer=fused", "optimizer=foreach", "omp_wait=active",
              "omp_wait=passive", "omp_bind=true"],
    "tensorflow": ["compile=xla", "precision=bf16", "onednn=false"],
}
ALLOCATORS = ("jemalloc", "tcmalloc")


def expert_plans(framework: str, bf16: bool) -> tuple[list[str], list[str]]:
    """(the --plan values to measure, what was left out and why)."""
    plans, left_out = [], []
    for plan in EXPERT[framework]:
        if "bf16" in plan and not bf16:
            left_out.append(f"{framework} {plan}: no bf16 in this CPU's hardware")
        else:
            plans.append(plan)
    found = available_allocators()
    for allocator in ALLOCATORS:
        if allocator in found:
            plans.append(f"allocator={allocator}")
        else:
            left_out.append(f"{framework} allocator={allocator}: not installed here")
    return plans, left_out


def table(results: ResultsFile) -> None:
    rows = [row for row in results.rows if row.status == "ok"]
    print(f"run {results.run_id}; {results.calibration.describe() if results.calibration else 'no calibration'}")
    print("| workload | framework | configuration | s/batch median [95% CI] | ÷ eager fp32 | % peak |")
    print("|---|---|---|---:|---:|---:|")
    gains = {}
    for workload in dict.fromkeys(row.workload for row in rows):
        for framework in dict.fromkeys(row.framework for row in rows if row.workload == workload):
            group = [row for row in rows if (row.workload, row.framework) == (workload, framework)]
            base = next((row for row in group if row.plan_label == "baseline"), None)
            if base is None:
                continue
            for row in group:
                ratio, low, high = median_ratio_ci(row.measured.step_seconds, base.measured.step_seconds)
                peak = "—" if row.percent_of_peak is None else f"{row.percent_of_peak:.0f}%"
                name = " = ".join((row.plan_label, *row.also_labels))
                if "tuned" in (row.plan_label, *row.also_labels):
                    name += f" ({switches(row.plan, base.plan)})"  # what the search chose
                print(f"| {workload} | {framework} | {name} | {row.statistics.median:.4f} "
                      f"[{row.statistics.ci_low:.4f}–{row.statistics.ci_high:.4f}] | {ratio:.2f}x "
                      f"[{low:.2f}–{high:.2f}] | {peak} |")
            tuned = next((row for row in group if "tuned" in (row.plan_label, *row.also_labels)), None)
            experts = [row for row in group if row is not tuned and row.plan_label != "baseline"]
            if tuned is None or not experts:
                continue
            best = min(experts, key=lambda row: row.statistics.median)
            ratio, low, high = median_ratio_ci(tuned.measured.step_seconds, best.measured.step_seconds)
            verdict = "tuned ≥ best expert" if low >= 1 or (low < 1 < high) else "best expert faster"
            gains[workload, framework] = base.statistics.median / tuned.statistics.median
            print(f"|  | {framework} | **tuned ÷ best expert ({best.plan_label})** | | {ratio:.2f}x "
                  f"[{low:.2f}–{high:.2f}]: {verdict} | |")
    for framework in dict.fromkeys(framework for _, framework in gains):
        values = [gain for (_, name), gain in gains.items() if name == framework]
        print(f"{framework}: tuned ÷ eager fp32, geometric mean over {len(values)} workloads: "
              f"{math.exp(statistics.fmean(math.log(value) for value in values)):.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=None)
    parser.add_argument("--frameworks", default="torch,tensorflow")
    parser.add_argument("--tune-budget", default="5x")
    parser.add_argument("--results", type=Path, help="print the table of an earlier run of this script")
    parser.add_argument("--expert", action="append", default=None,
                        help="measure only this expert configuration (repeatable; default: all of them)")
    options = parser.parse_args()
    if options.results:
        table(load_results(options.results))
        return
    # The seed suite by default: what `run` measures without --suite (tune would otherwise tune every workload)
    workloads = options.workloads.split(",") if options.workloads else workload_names("seed")
    frameworks = options.frameworks.split(",")
    bf16 = cpu_has_fast_bf16()  # False under a oneDNN cap below bf16 (ONEDNN_MAX_CPU_ISA=AVX2)
    machine = fingerprint()
    if machine.isa_limits:
        print("instruction sets capped: " + ", ".join(f"{k}={v}" for k, v in machine.isa_limits.items()))
    start = time.monotonic()
    batchmark.tune_workloads(workloads, frameworks, budget=options.tune_budget)
    print(f"tuning: {time.monotonic() - start:.0f} s")
    left_out_all = []
    for framework in frameworks:
        plans, left_out = expert_plans(framework, bf16)
        if options.expert:
            unknown = [plan for plan in options.expert if plan not in EXPERT[framework]
                       and plan not in (f"allocator={name}" for name in ALLOCATORS)]
            if len(frameworks) == 1 and unknown:
                parser.error(f"--expert {unknown[0]!r} is not an expert configuration of {framework}")
            left_out += [f"{framework} {plan}: not asked for (--expert)" for plan in plans
                         if plan not in options.expert]
            plans = [plan for plan in plans if plan in options.expert]
        left_out_all += left_out
        started = time.monotonic()
        outcome = batchmark.run_suite(workloads, [framework], ["baseline", "tuned", *plans], budget="none",
                                      report=False)
        print(f"{framework}: results {outcome.path} ({time.monotonic() - started:.0f} s)")
        table(outcome.results)
    for line in left_out_all:
        print(f"left out: {line}")


if __name__ == "__main__":
    main()
