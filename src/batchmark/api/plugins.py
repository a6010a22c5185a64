"""Extra workloads from outside the package: modules named in BATCHMARK_PLUGINS register them on import."""

from __future__ import annotations

import importlib
import os

from batchmark.errors import UsageError

PLUGINS_VARIABLE = "BATCHMARK_PLUGINS"  # comma-separated modules that register extra workloads


def plugin_modules() -> list[str]:
    return [name.strip() for name in os.environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()]


def load_plugins(modules: list[str] | None = None) -> list[str]:
    """Import each plugin module (those in BATCHMARK_PLUGINS unless given); the workers import them again."""
    modules = plugin_modules() if modules is None else modules
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise UsageError(f"{PLUGINS_VARIABLE}: cannot import '{module}': {error}") from None
    return modules
