"""batchmark: seconds per training batch, honestly timed, for any machine, framework and device.

The library API (`batchmark.run_suite`, `tune_workloads`, `calibrate`, `compare_runs`, `write_report`, `submit`,
`open_history`, …)
is `batchmark.api`'s; `batchmark.accelerate` applies the measured-fastest plan to your own PyTorch model.
Each is imported on first use, so that `import batchmark` and `batchmark --help` stay instant.
"""

from batchmark.version import __version__  # noqa: F401  (batchmark.__version__)


def __getattr__(name: str):
    # No name here may be a submodule's: importing `batchmark.tune` sets the package's attribute `tune` to the
    # module, which would hide a function of that name (the API test checks it).
    import importlib

    if name == "accelerate":  # imports torch
        value = importlib.import_module("batchmark.acceleration").accelerate
    else:
        api = importlib.import_module("batchmark.api")  # not `from batchmark import api`: that asks __getattr__ again
        if name not in api.EXPORTS:
            raise AttributeError(f"module 'batchmark' has no attribute {name!r}")
        value = getattr(api, name)
    globals()[name] = value  # looked up once
    return value
