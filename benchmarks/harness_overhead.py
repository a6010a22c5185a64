"""How much does batchmark's own measurement cost? Ratios measured side by side in one run.

1. Per step: the engine's loop (sync, clock, step, sync, read-back, progress) against a bare loop of the
   same steps, on a tiny CNN whose step takes milliseconds, so any overhead shows.
2. Per row: the worker subprocess (Python start, torch import, build) against the timed work itself.

Run: .venv/bin/python benchmarks/harness_overhead.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

import tests.plugins.fake_workloads  # noqa: E402,F401  registers tiny_cnn
from batchmark.plans import Plan  # noqa: E402
from batchmark.engine.timing import StopRule, measure  # noqa: E402
from batchmark.frameworks.torch_backend import TorchBackend  # noqa: E402

STEPS = 50
TRIALS = 7


def bare_loop(session) -> float:
    start = time.perf_counter()
    for _ in range(STEPS):
        session.step()
    return time.perf_counter() - start


def engine_loop(session) -> float:
    start = time.perf_counter()
    measure(session, StopRule(warmup_steps=0, min_seconds=0, min_steps=STEPS, max_steps=STEPS),
            progress=lambda message: None)
    return time.perf_counter() - start


def per_step_overhead() -> None:
    prepared = TorchBackend().prepare("tiny_cnn", Plan(), 8, 32, 0, None)
    session = prepared.session
    for _ in range(10):
        session.step()
    bare, engine = [], []
    for _ in range(TRIALS):  # alternate, so drift on a shared machine hits both alike
        bare.append(bare_loop(session))
        engine.append(engine_loop(session))
    bare_median, engine_median = statistics.median(bare), statistics.median(engine)
    print(f"per step: bare {bare_median / STEPS * 1e3:.3f} ms, engine {engine_median / STEPS * 1e3:.3f} ms, "
          f"ratio engine/bare {engine_median / bare_median:.3f} (median of {TRIALS} trials of {STEPS} steps)")


def per_row_overhead() -> None:
    walls, timed = [], []
    for _ in range(3):
        with tempfile.TemporaryDirectory() as folder:
            output = Path(folder) / "r.json"
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "batchmark.cli", "run", "tiny_cnn", "--framework", "torch", "--plan", "baseline",
                            "--steps", "20", "--warmup", "2", "--output", str(output)],
                           check=True, capture_output=True, cwd=REPO,
                           env={**__import__("os").environ, "BATCHMARK_PLUGINS": "tests.plugins.fake_workloads",
                                "PYTHONPATH": str(REPO)})
            walls.append(time.perf_counter() - start)
            from batchmark.results import load_results

            row = load_results(output).rows[0]
            timed.append(sum(row.measured.step_seconds) + sum(row.measured.warmup_seconds))
    wall, work = statistics.median(walls), statistics.median(timed)
    print(f"per row: whole command {wall:.2f} s, timed work {work:.2f} s, fixed cost {wall - work:.2f} s "
          f"(process start, framework import, probe, build, FLOP count) - median of 3")


if __name__ == "__main__":
    torch.manual_seed(0)
    per_step_overhead()
    per_row_overhead()
