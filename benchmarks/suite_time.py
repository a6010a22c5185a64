"""How long does the default suite take, and on what? `batchmark run` (and `--quick`) timed from cold caches and
again warm, with the wall time broken down from the results file: the rows' set-up (build), compile, warm-up
and timed steps, and everything else (process starts, imports, FLOP counting, calibration, tuning).

Cold means a fresh data directory (no calibration, no tuned plans, no history) and a fresh torch.compile cache;
warm is the same command run again right after, with what the cold run left behind. `--tree REF` runs an
earlier commit instead of the working tree (checked out into a temporary git worktree, with the same
interpreter and packages), so that before and after are measured by this one script.

Run: .venv/bin/python benchmarks/suite_time.py [--quick] [--tree REF] [--warm] [-- extra run options]
Nothing else may run on the machine meanwhile: on 2 cores a second process makes the numbers garbage.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_once(tree: Path, home: Path, arguments: list[str], label: str) -> dict:
    output = home / f"{label}.json"
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "XDG_CONFIG_HOME": str(home / "config"),
           "TORCHINDUCTOR_CACHE_DIR": str(home / "inductor"), "COLUMNS": "200"}
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, "-m", "batchmark.cli", "run", *arguments, "--output", str(output),
                                "--no-report"], env=env, cwd=home, capture_output=True, text=True)
    wall = time.perf_counter() - start
    (home / f"{label}.log").write_text(completed.stdout + completed.stderr)
    results = json.loads(output.read_text())
    parts = {"setup": 0.0, "compile": 0.0, "warm-up": 0.0, "timed": 0.0}
    for row in results["rows"]:
        measured = row.get("measured") or {}
        compile_seconds = row.get("compile_seconds") or 0.0
        parts["setup"] += measured.get("setup_seconds") or 0.0
        parts["compile"] += compile_seconds
        parts["warm-up"] += sum(measured.get("warmup_seconds") or []) - compile_seconds
        parts["timed"] += sum(measured.get("step_seconds") or [])
    parts["tuning"] = sum(entry.get("seconds") or 0.0 for entry in results.get("screenings") or [])
    parts["other"] = wall - sum(parts.values())
    rows = results["rows"]
    return {"label": label, "wall": wall, "exit": completed.returncode, "parts": parts, "rows": len(rows),
            "failed": sum(1 for row in rows if row["status"] == "failed"),
            "not_run": len(results.get("not_run") or [])}


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time `batchmark run --quick`")
    parser.add_argument("--tree", help="an earlier commit to run instead of the working tree")
    parser.add_argument("--warm", action="store_true", help="also run it again, warm")
    parser.add_argument("extra", nargs="*", help="further `batchmark run` options, after --")
    options = parser.parse_args()
    arguments = (["--quick"] if options.quick else []) + options.extra
    with tempfile.TemporaryDirectory(prefix="batchmark-suite-time-") as folder:
        home = Path(folder) / "home"
        home.mkdir()
        tree = REPO
        if options.tree:
            tree = Path(folder) / "tree"
            subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), options.tree],
                           check=True, capture_output=True)
        try:
            measured = [run_once(tree, home, arguments, "cold")]
            if options.warm:
                measured.append(run_once(tree, home, arguments, "warm"))
        finally:
            if options.tree:
                subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], check=False)
            kept = Path(tempfile.gettempdir()) / "batchmark-suite-time-last"
            subprocess.run(["rm", "-rf", str(kept)], check=False)
            subprocess.run(["cp", "-r", str(home), str(kept)], check=False)
    print(f"`batchmark run {' '.join(arguments)}` on {options.tree or 'the working tree'} "
          f"(logs and results: {kept})")
    for entry in measured:
        parts = "  ".join(f"{name} {seconds:6.1f} s" for name, seconds in entry["parts"].items())
        print(f"{entry['label']:<5} wall {minutes(entry['wall'])}  rows {entry['rows']} ({entry['failed']} failed, "
              f"{entry['not_run']} not run, exit {entry['exit']})  {parts}")


if __name__ == "__main__":
    main()
