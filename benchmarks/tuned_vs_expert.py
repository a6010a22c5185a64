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
     [--tune-budget 5x] [--expert PLAN ...] [--rounds 2] [--results FILE ...]   (earlier results: their table)
The tuned plan and the best expert configuration of each workload are measured in --rounds processes each, in
mirror order, and the verdict is a CI over processes and steps: a plan's median drifts between processes.
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
from batchmark.engine.stats import grouped_median_ratio_ci
from batchmark.plans import Plan
from batchmark.frameworks.runtime import available_allocators
from batchmark.machine import cpu_has_fast_bf16, describe_limits, fingerprint
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


def measured_rows(runs: list[ResultsFile]) -> dict[tuple[str, str, Plan], list]:
    """Every ok row of `runs`, per (workload, framework, plan): one row per process that measured it."""
    rows: dict[tuple[str, str, Plan], list] = {}
    for results in runs:
        for row in results.rows:
            if row.status == "ok":
                rows.setdefault((row.workload, row.framework, row.plan), []).append(row)
    return rows


def steps(rows: list) -> list[list[float]]:
    return [row.measured.step_seconds for row in rows]


def pooled_median(rows: list) -> float:
    return statistics.median(seconds for group in steps(rows) for seconds in group)


def names(rows: list) -> tuple[str, ...]:
    return tuple(dict.fromkeys(label for row in rows for label in (row.plan_label, *row.also_labels)))


def best_expert(group: dict[Plan, list]) -> tuple[Plan, Plan] | None:
    """(the tuned plan, the fastest other expert configuration) of one workload and framework, by pooled median."""
    tuned = next((plan for plan, rows in group.items() if "tuned" in names(rows)), None)
    experts = [plan for plan, rows in group.items() if plan != tuned and "baseline" not in names(rows)]
    if tuned is None or not experts:
        return None
    return tuned, min(experts, key=lambda plan: pooled_median(group[plan]))


def groups(runs: list[ResultsFile]) -> dict[tuple[str, str], dict[Plan, list]]:
    by_workload: dict[tuple[str, str], dict[Plan, list]] = {}
    for (workload, framework, plan), rows in measured_rows(runs).items():
        by_workload.setdefault((workload, framework), {})[plan] = rows
    return by_workload


def table(runs: list[ResultsFile]) -> None:
    """Each configuration pooled over the processes that measured it; ratios with CIs over processes and steps
    (a plan's median drifts between processes, up to 25% on MobileNetV3 here: a CI over one process's steps
    cannot show that, and called a 1.02x [0.91-1.13] tie a 1.07x win)."""
    for results in runs:
        print(f"run {results.run_id}; {results.calibration.describe() if results.calibration else 'no calibration'}")
    print("| workload | framework | configuration | processes | s/batch median | ÷ eager fp32 [95% CI] | % peak |")
    print("|---|---|---|---:|---:|---:|---:|")
    gains = {}
    for (workload, framework), group in groups(runs).items():
        base = next((plan for plan, rows in group.items() if "baseline" in names(rows)), None)
        if base is None:
            continue
        for plan, rows in group.items():
            ratio, low, high = grouped_median_ratio_ci(steps(rows), steps(group[base]))
            gain = "1.00x" if plan == base else f"{ratio:.2f}x [{low:.2f}–{high:.2f}]"
            median = pooled_median(rows)
            first = rows[0]
            peak = ("—" if first.percent_of_peak is None
                    else f"{first.percent_of_peak * first.statistics.median / median:.0f}%")
            name = " = ".join(names(rows))
            if "tuned" in names(rows):
                name += f" ({switches(plan, base)})"  # what the search chose
            print(f"| {workload} | {framework} | {name} | {len(rows)} | {median:.4f} | {gain} | {peak} |")
        pair = best_expert(group)
        if pair is None:
            continue
        tuned, best = pair
        ratio, low, high = grouped_median_ratio_ci(steps(group[tuned]), steps(group[best]))
        # Tuned is at least as fast unless the best expert is faster beyond the noise of processes and steps.
        verdict = "tuned ≥ best expert" if high >= 1 else "best expert faster"
        gains[workload, framework] = pooled_median(group[base]) / pooled_median(group[tuned])
        print(f"|  | {framework} | **tuned ÷ best expert ({names(group[best])[0]})** | "
              f"{len(group[tuned])} / {len(group[best])} | | {ratio:.2f}x [{low:.2f}–{high:.2f}]: {verdict} | |")
    for framework in dict.fromkeys(framework for _, framework in gains):
        values = [gain for (_, name), gain in gains.items() if name == framework]
        print(f"{framework}: tuned ÷ eager fp32, geometric mean over {len(values)} workloads: "
              f"{math.exp(statistics.fmean(math.log(value) for value in values)):.2f}x")


def remeasure_contenders(runs: list[ResultsFile], framework: str, rounds: int) -> list:
    """The tuned plan and the best expert configuration of each workload in `rounds - 1` more processes each, in
    mirror order (the first run measured tuned first: then expert, tuned; tuned, expert; ...), so that the verdict
    is over processes, not one process's steps."""
    more = []
    for (workload, name), group in groups(runs).items():
        pair = best_expert(group) if name == framework else None
        if pair is None:
            continue
        tuned, best = pair
        label = names(group[best])[0]
        for round_ in range(1, rounds):
            plans = [label, "tuned"] if round_ % 2 else ["tuned", label]
            more.append(batchmark.run_suite([workload], [framework], plans, budget="none", report=False))
    return more


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default=None)
    parser.add_argument("--frameworks", default="torch,tensorflow")
    parser.add_argument("--tune-budget", default="5x")
    parser.add_argument("--results", type=Path, action="append",
                        help="print the table of an earlier run of this script (repeat to pool its results files)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="processes of the tuned plan and of the best expert configuration each (default 2)")
    parser.add_argument("--expert", action="append", default=None,
                        help="measure only this expert configuration (repeatable; default: all of them)")
    options = parser.parse_args()
    if options.results:
        table([load_results(path) for path in options.results])
        return
    if options.rounds < 1:
        parser.error(f"--rounds must be at least 1, not {options.rounds}")
    # The seed suite by default: what `run` measures without --suite (tune would otherwise tune every workload)
    workloads = options.workloads.split(",") if options.workloads else workload_names("seed")
    frameworks = options.frameworks.split(",")
    bf16 = cpu_has_fast_bf16()  # False under a oneDNN cap below bf16 (ONEDNN_MAX_CPU_ISA=AVX2)
    machine = fingerprint()
    if machine.isa_limits:
        print("instruction sets capped: " + describe_limits(machine.isa_limits))
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
        outcomes = [outcome, *remeasure_contenders([outcome.results], framework, options.rounds)]
        print(f"{framework}: results {' '.join(str(done.path) for done in outcomes)} "
              f"({time.monotonic() - started:.0f} s)")
        table([done.results for done in outcomes])
    for line in left_out_all:
        print(f"left out: {line}")


if __name__ == "__main__":
    main()
