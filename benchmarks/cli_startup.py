"""Does the CLI start as fast as it did at an earlier commit? `--help`, `list` and `import batchmark`, timed side
by side in one run: the earlier commit is checked out into a temporary git worktree, and both trees run with the
same interpreter and packages, interleaved round by round so that drift on the machine hits both alike.

Run: .venv/bin/python benchmarks/cli_startup.py --before REF [--rounds 15]
Nothing else may run on the machine meanwhile: on 2 cores a second process makes the numbers garbage.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "batchmark --help": ["-m", "batchmark.cli", "--help"],
    "batchmark list": ["-m", "batchmark.cli", "list"],
    "import batchmark": ["-c", "import batchmark"],
}


def seconds(tree: Path, arguments: list[str], home: Path) -> float:
    # The tree's own sources first, ahead of the editable install's path entry.
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "XDG_DATA_HOME": str(home / "data"),
           "XDG_CACHE_HOME": str(home / "cache"), "COLUMNS": "200"}
    start = time.perf_counter()
    subprocess.run([sys.executable, *arguments], check=True, capture_output=True, env=env, cwd=home)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="the commit to compare against, e.g. a tag or a hash")
    parser.add_argument("--rounds", type=int, default=15)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="batchmark-startup-") as folder:
        before, home = Path(folder) / "before", Path(folder) / "home"
        home.mkdir()
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(before), options.before],
                       check=True, capture_output=True)
        try:
            trees = {"before": before, "after": REPO}
            for tree in trees.values():  # one untimed run each: bytecode compiled, files in the page cache
                for arguments in COMMANDS.values():
                    seconds(tree, arguments, home)
            samples = {(name, label): [] for name in COMMANDS for label in trees}
            for _ in range(options.rounds):
                for name, arguments in COMMANDS.items():
                    for label, tree in trees.items():
                        samples[name, label].append(seconds(tree, arguments, home))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(before)], check=False)
    print(f"before = {options.before}, after = the working tree; median of {options.rounds} interleaved rounds")
    for name in COMMANDS:
        was, now = statistics.median(samples[name, "before"]), statistics.median(samples[name, "after"])
        print(f"{name:<18} before {was * 1e3:7.1f} ms   after {now * 1e3:7.1f} ms   after/before {now / was:.3f}")


if __name__ == "__main__":
    main()
