"""The tuner against the plain framework and every fixed configuration, measured side by side in one run.

    .venv/bin/python benchmarks/tune_speedup.py [WORKLOAD...] [--output results.json] [--measure-slow-bf16]

Per workload: `batchmark tune` from scratch (its wall time is the tuning time), then one standard
measurement each of PyTorch eager fp32 (the baseline), eager bf16 + channels_last, torch.compile bf16 +
channels_last, torch.compile fp32, Keras/TensorFlow's default, and the tuned plan, all in worker
subprocesses in the same run. Prints seconds per batch, speedup over the baseline (baseline median / row
median), % of the calibrated peak for the row's precision, the geometric mean of the tuned speedups, and
whether the tuned plan is at least as fast as the best fixed configuration on every workload.

bf16 configurations are skipped where the calibrated bf16 peak is below fp32's (no bf16 arithmetic in
hardware: on such a CPU a bf16 ResNet50V2 step takes many minutes), and the table says so;
`--measure-slow-bf16` measures them anyway. Run it on a quiet machine: it takes about 10 minutes per
workload on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from batchmark.engine import calibration
from batchmark.plans import Plan
from batchmark.engine.plan import baseline
from batchmark.engine.profiles import PROFILES
from batchmark.engine.runner import Job, SuiteRequest, new_results, probe_devices, run_suite
from batchmark.machine import fingerprint
from batchmark.tune.search import SearchSettings
from batchmark.tune.workload import tune_workload
from batchmark.workloads.registry import get_workload, workload_names

FIXED = {
    "eager bf16+cl": Plan("torch", precision="bf16", channels_last=True),
    "compile bf16+cl": Plan("torch", precision="bf16", compile="default", channels_last=True),
    "compile fp32": Plan("torch", compile="default"),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=workload_names())
    parser.add_argument("--output", type=Path, default=Path("tune_speedup.json"))
    parser.add_argument("--measure-slow-bf16", action="store_true")
    options = parser.parse_args(argv)

    machine = fingerprint()
    peaks, _ = calibration.cached_or_calibrate(machine)
    bf16, fp32 = peaks.peak("cpu", "bf16"), peaks.peak("cpu", "fp32")
    skip_bf16 = not options.measure_slow_bf16 and bf16 is not None and bf16.flops_per_second < fp32.flops_per_second
    devices = {name: probe_devices(name) for name in ("torch", "tensorflow")}
    profile = PROFILES["standard"]
    request = SuiteRequest(workloads=options.workloads, frameworks=["torch", "tensorflow"], plans=[], device="auto",
                           profile=profile)
    results = new_results(sys.argv, profile, machine)
    results.calibration = peaks
    tuning_seconds = {}
    for workload in options.workloads:
        spec = get_workload(workload)
        sizes = (spec.batch_size, spec.image_size)
        print(f"== {workload}: tuning", flush=True)
        started = time.monotonic()
        tuned, result = tune_workload(workload, "torch", *sizes, devices["torch"], peaks, machine, SearchSettings(),
                                      say=lambda line: print(f"   {line}", flush=True))
        tuning_seconds[workload] = time.monotonic() - started
        print(f"   tuned in {tuning_seconds[workload]:.0f} s (budget {tuned.budget_seconds:.0f} s): "
              f"{tuned.plan.describe()}", flush=True)
        jobs = [Job(workload, "torch", "baseline", Plan("torch"), *sizes)]
        for label, plan in FIXED.items():
            if not (skip_bf16 and plan.precision == "bf16"):
                jobs.append(Job(workload, "torch", label, plan, *sizes))
        jobs.append(Job(workload, "tensorflow", "keras default", baseline("tensorflow", devices["tensorflow"]["cpu"]),
                        *sizes))
        jobs.append(Job(workload, "torch", "tuned", tuned.plan, *sizes, plan_source="tuned"))
        run_suite(request, jobs, results, options.output,
                  on_start=lambda index, job: print(f"   measuring {job.plan_label}", flush=True))
    print_table(results, tuning_seconds, skip_bf16, bf16, fp32)
    print(f"results: {options.output.resolve()} (`batchmark import` it for the report)")
    return 0


def print_table(results, tuning_seconds: dict, skip_bf16: bool, bf16, fp32) -> None:
    baseline_of = {row.workload: row.statistics.median for row in results.rows
                   if row.plan_label == "baseline" and row.status == "ok"}
    print()
    print("| workload | configuration | s/batch | vs PyTorch eager fp32 | model GFLOP/s | % of peak |")
    print("|---|---|---:|---:|---:|---:|")
    tuned_speedups, verdicts = [], []
    for workload in dict.fromkeys(row.workload for row in results.rows):
        rows = [row for row in results.rows if row.workload == workload]
        for row in rows:
            if row.status != "ok":
                print(f"| {workload} | {row.plan_label} | failed ({row.failure.kind}) | | | |")
                continue
            speedup = baseline_of[workload] / row.statistics.median
            peak = "—" if row.percent_of_peak is None else f"{row.percent_of_peak:.0f}% of {row.plan['precision']}"
            gflops = "—" if row.achieved_flops_per_second is None else f"{row.achieved_flops_per_second / 1e9:.0f}"
            print(f"| {workload} | {row.plan_label} | {row.statistics.median:.3f} | {speedup:.2f}x | {gflops} | {peak} |")
        if skip_bf16:
            print(f"| {workload} | eager/compile bf16+cl | not measured | | | bf16 peak "
                  f"{bf16.flops_per_second / 1e9:.1f} GFLOP/s vs fp32 {fp32.flops_per_second / 1e9:.1f} |")
        tuned = next((r for r in rows if r.plan_label == "tuned" and r.status == "ok"), None)
        fixed = [r for r in rows if r.plan_label not in ("baseline", "tuned") and r.status == "ok"]
        if tuned is not None:
            tuned_speedups.append(baseline_of[workload] / tuned.statistics.median)
            best = min(fixed, key=lambda r: r.statistics.median) if fixed else None
            if best is not None:
                verdicts.append((workload, best.plan_label, best.statistics.median / tuned.statistics.median))
    print()
    for workload, seconds in tuning_seconds.items():
        print(f"tuning time {workload}: {seconds:.0f} s")
    if tuned_speedups:
        geomean = math.exp(sum(map(math.log, tuned_speedups)) / len(tuned_speedups))
        print(f"geometric mean, tuned ÷ PyTorch eager fp32 over {len(tuned_speedups)} workloads: {geomean:.2f}x "
              f"(goal 3.0x)")
    for workload, label, ratio in verdicts:
        print(f"{workload}: best fixed configuration {label}; best fixed median ÷ tuned median = {ratio:.2f} "
              f"({'tuned at least as fast' if ratio >= 0.97 else 'TUNED SLOWER'}; 3% is the tuner's own threshold)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
