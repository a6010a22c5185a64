"""The library API: what each `batchmark` command does, as functions that return typed results.

    import batchmark
    outcome = batchmark.run_suite(workloads=["mobilenetv3"], frameworks=["torch"], quick=True)
    comparison = batchmark.compare_runs("latest~1", "latest")

Nothing here prints: news comes through an `Events` object, errors as `batchmark.errors.BatchmarkError`.
The names are imported from their modules on first use, so that `import batchmark` stays instant. None is
a submodule's name (`compare_runs`, not `compare`): importing a submodule would replace the function.
"""

from __future__ import annotations

import importlib

EXPORTS = {
    "run_suite": "batchmark.api.suite", "SuiteOutcome": "batchmark.api.suite",
    "tune_workloads": "batchmark.api.tuning", "calibrate": "batchmark.api.tuning", "TuneOutcome": "batchmark.api.tuning",
    "compare_runs": "batchmark.api.runs", "write_report": "batchmark.api.runs", "load_run": "batchmark.api.runs",
    "list_runs": "batchmark.api.runs", "import_runs": "batchmark.api.runs", "export_run": "batchmark.api.runs",
    "submit": "batchmark.api.upload", "Submitted": "batchmark.api.upload",
    "inventory": "batchmark.api.availability", "machine_info": "batchmark.api.availability",
    "open_history": "batchmark.store", "Events": "batchmark.api.events",
}
__all__ = sorted(EXPORTS)


def __getattr__(name: str):
    if name not in EXPORTS:
        raise AttributeError(f"module 'batchmark.api' has no attribute {name!r}")
    return getattr(importlib.import_module(EXPORTS[name]), name)
