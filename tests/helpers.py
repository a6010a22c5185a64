"""Running the real `batchmark` command in a subprocess, as a user would."""

from __future__ import annotations

import subprocess
import sys


def batchmark(*args: str, timeout: float = 600, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "batchmark.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env)
