"""Does the tuner's speedup hold up? For each workload: tune it (afresh), then `run` its baseline and tuned plans
side by side, and print the tuner's speedup beside the run's, each with its 95% bootstrap CI.

The tuner measures the baseline and the winner at the standard step count in two processes each (A B B A), with a
CI over processes and steps; a run measures them again in fresh workers. The two speedups agree when their CIs
overlap.

Run on a quiet machine: .venv/bin/python benchmarks/tune_agreement.py [WORKLOAD ...] [--framework torch]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import batchmark
from batchmark.engine.stats import median_ratio_ci


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["mobilenetv3", "resnet50v2_finetune"])
    parser.add_argument("--framework", default="torch")
    options = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory(prefix="batchmark-agreement-") as folder:
        for workload in options.workloads:
            (outcome,) = batchmark.tune_workloads([workload], [options.framework], force=True)
            if outcome.failure:
                lines.append(f"{workload}: not tuned: {outcome.failure}")
                continue
            tuned = outcome.tuned
            if tuned.plan == tuned.baseline_plan:
                lines.append(f"{workload}: the tuner kept the baseline ({tuned.baseline_seconds:.4f} s); nothing to "
                             f"compare")
                continue
            ran = batchmark.run_suite([workload], [options.framework], ["baseline", "tuned"], report=False,
                                      output=Path(folder) / f"{workload}.json", database=f"{folder}/history.sqlite")
            baseline, chosen = ran.results.rows
            speedup, low, high = median_ratio_ci(chosen.measured.step_seconds, baseline.measured.step_seconds)
            tuner_low, tuner_high = tuned.speedup_ci
            agree = tuner_low <= high and low <= tuner_high
            lines.append(
                f"{workload} ({tuned.plan.describe()}): tuner {tuned.speedup:.2f}x [{tuner_low:.2f}-{tuner_high:.2f}] "
                f"({tuned.baseline_seconds:.4f} / {tuned.seconds:.4f} s); run {speedup:.2f}x [{low:.2f}-{high:.2f}] "
                f"({baseline.statistics.median:.4f} / {chosen.statistics.median:.4f} s): "
                f"{'agree' if agree else 'DISAGREE'} within the CIs")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
