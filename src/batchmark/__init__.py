"""batchmark: seconds per training batch, honestly timed, for any machine, framework and device.

The library API (`batchmark.run_suite`, `tune`, `calibrate`, `compare`, `report`, `submit`, `open_history`, …)
is `batchmark.api`'s; `batchmark.accelerate` applies the measured-fastest plan to your own PyTorch model.
Each is imported on first use, so that `import batchmark` and `batchmark --help` stay instant.
"""

from batchmark.version import __version__  # noqa: F401  (batchmark.__version__)


def __getattr__(name: str):
    if name == "accelerate":  # imports torch
        from batchmark.accelerate import accelerate

        return accelerate
    import importlib

    api = importlib.import_module("batchmark.api")  # not `from batchmark import api`: that asks __getattr__ again
    if name in api.EXPORTS:
        return getattr(api, name)
    raise AttributeError(f"module 'batchmark' has no attribute {name!r}")
