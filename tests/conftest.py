from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PLUGIN = "tests.plugins.fake_workloads"

pytest_plugins = ["tests.databases"]  # the database_url fixture: SQLite, and PostgreSQL when reachable


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Results and caches go to a temporary folder, never the developer's own."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    # Keras reads, and writes on first import, KERAS_HOME/keras.json; a developer's own must not matter.
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("BATCHMARK_DB", raising=False)  # the default history is then under XDG_DATA_HOME


@pytest.fixture
def fake_workloads(monkeypatch):
    """Registers the test workloads here and in every worker the test starts."""
    monkeypatch.setenv("BATCHMARK_PLUGINS", PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    import importlib

    importlib.import_module(PLUGIN)
