"""The layers contract (pyproject.toml [tool.importlinter]) holds, and it really fails on an upward import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(root / "src")}  # before the editable install's path
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_layers_are_kept():
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_an_import_of_the_cli_from_the_engine_breaks_the_contract(tmp_path):
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    stats = tmp_path / "src" / "batchmark" / "engine" / "stats.py"
    stats.write_text(stats.read_text() + "\nfrom batchmark.cli.app import console  # an upward import\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0
    assert "batchmark.engine is not allowed to import batchmark.cli" in result.stdout
    assert "batchmark.engine.stats -> batchmark.cli.app" in result.stdout
