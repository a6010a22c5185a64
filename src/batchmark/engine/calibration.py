"""The machine's measured peak, cached per machine fingerprint: the limit that "% of peak" is measured against.

Calibrating runs `batchmark.frameworks.torch_peak` in a subprocess (the parent never imports a framework)
and caches the result under the user cache directory, keyed by the hardware fingerprint and the framework
version: another machine, another GPU or another torch build is calibrated afresh.

`framework="mlx"` measures MLX's own peak instead (`batchmark.frameworks.mlx_peak`): on a Linux CPU its matmul
and conv run on the BLAS it is given, so it is measured once per BLAS installed here (its wheel's own, and
OpenBLAS preloaded as `blas=openblas` does) and each operation is named with its BLAS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import subprocess
import sys
from pathlib import Path

import platformdirs
import psutil
from pydantic import ValidationError

from batchmark.engine.contention import Window
from batchmark.errors import CalibrationError
from batchmark.files import write_atomically
from batchmark.frameworks import get_framework, installed_version
from batchmark.frameworks.runtime import available_blas, worker_environment
from batchmark.machine import Fingerprint, fingerprint
from batchmark.plans import Plan
from batchmark.results import Calibration, CalibrationConditions, Peak
from batchmark.engine.lifetime import owned_folder

CALIBRATION_TIMEOUT_SECONDS = 600
# Other processes' share of the CPU time above which a calibration is refused. A quiet machine shows about 1%;
# one busy process beside the 2-thread calibration on 2 cores takes a third or more.
BUSY_SHARE = 0.10
FRAMEWORK = "torch"  # the peak is the hardware's; torch's matmul and conv paths are what measure it
# The frameworks whose own peak can be measured, and the module that measures it.
PEAK_MODULES = {"torch": "batchmark.frameworks.torch_peak", "mlx": "batchmark.frameworks.mlx_peak"}


def hardware_key(machine: Fingerprint, framework: str = FRAMEWORK) -> dict:
    """The fingerprint fields a peak depends on: the hardware, the instruction sets its kernels may use, and the
    framework that measured it (for MLX, also the BLAS libraries it could be given)."""
    key = {"cpu": machine.cpu.model_dump(), "memory_bytes": machine.memory_bytes,
           "gpus": [gpu.model_dump(include={"kind", "name", "driver", "compute_capability"}) for gpu in machine.gpus],
           "framework": framework, "framework_version": machine.frameworks.get(framework)}
    if framework == "mlx":
        key["blas"] = sorted(available_blas())
    if machine.isa_limits:  # only then: an uncapped machine keeps the key its caches were written under
        key["isa_limits"] = dict(machine.isa_limits)
    return key


def fingerprint_hash(machine: Fingerprint, framework: str = FRAMEWORK) -> str:
    return hashlib.sha256(json.dumps(hardware_key(machine, framework), sort_keys=True).encode()).hexdigest()


def cache_directory() -> Path:
    return platformdirs.user_cache_path("batchmark") / "calibration"


def cached(machine: Fingerprint | None = None, framework: str = FRAMEWORK) -> Calibration | None:
    """This machine's calibration, if one was measured with this hardware and framework version."""
    key = fingerprint_hash(machine or fingerprint(), framework)
    path = cache_directory() / f"{key}.json"
    try:
        calibration = Calibration.model_validate_json(path.read_text())
    except (OSError, ValidationError):
        return None
    return calibration if calibration.fingerprint == key else None


def _measure(framework: str, folder: Path, environment: dict[str, str] | None = None) -> dict:
    """The peak module's JSON, run in a process of its own with `environment`."""
    reply = folder / "peaks.json"
    reply.unlink(missing_ok=True)
    try:
        completed = subprocess.run([sys.executable, "-m", PEAK_MODULES[framework], str(reply)], capture_output=True,
                                   text=True, timeout=CALIBRATION_TIMEOUT_SECONDS, env=environment)
    except subprocess.TimeoutExpired:
        raise CalibrationError(f"calibration took more than {CALIBRATION_TIMEOUT_SECONDS} s") from None
    if completed.returncode != 0 or not reply.exists():
        lines = [line for line in completed.stderr.splitlines() if line.strip()]
        raise CalibrationError(f"calibration failed (exit {completed.returncode}): "
                               f"{lines[-1] if lines else 'no output'}")
    return json.loads(reply.read_text())


def _measure_mlx(folder: Path) -> dict:
    """MLX's peaks with each BLAS it can be given here, merged: each operation named with its BLAS."""
    merged: dict | None = None
    for blas in ("bundled", *available_blas()):
        measured = _measure("mlx", folder, worker_environment(Plan("mlx", channels_last=True, blas=blas)))
        for peak in measured["peaks"]:
            peak["by_operation"] = {f"{name} blas={blas}": rate for name, rate in peak["by_operation"].items()}
            peak["operation"] = f"{peak['operation']} blas={blas}"
        if merged is None:
            merged = measured
            continue
        merged["seconds"] += measured["seconds"]
        for mine, theirs in zip(merged["peaks"], measured["peaks"]):
            mine["by_operation"].update(theirs["by_operation"])
            mine["trial_spread"] = max(mine["trial_spread"], theirs["trial_spread"])
            if theirs["flops_per_second"] > mine["flops_per_second"]:
                mine["operation"], mine["flops_per_second"] = theirs["operation"], theirs["flops_per_second"]
    return merged


def calibrate(machine: Fingerprint | None = None, framework: str = FRAMEWORK) -> Calibration:
    """Measure the peaks now (about 10 s on a CPU) and cache them; a busy machine's peaks are refused, not cached."""
    machine = machine or fingerprint()
    if framework not in PEAK_MODULES:
        raise CalibrationError(f"batchmark measures the peak of {', '.join(PEAK_MODULES)}, not of {framework}")
    if installed_version(framework) is None:
        raise CalibrationError(f"calibrating {framework} needs it installed: {get_framework(framework).install}")
    with owned_folder("batchmark-calibrate-") as folder:
        window = Window.open()
        measured = _measure_mlx(Path(folder)) if framework == "mlx" else _measure(framework, Path(folder))
        others = window.others_share()
    spreads = [peak.pop("trial_spread") for peak in measured["peaks"]]  # a condition, not part of a Peak
    conditions = CalibrationConditions(others_cpu_share=others, load_average=window.load_average,
                                       logical_cores=psutil.cpu_count() or 1, trial_spread=max(spreads, default=0.0))
    if others > BUSY_SHARE:
        raise CalibrationError(
            f"calibration refused, nothing cached: other processes used {others:.0%} of this machine's CPU time "
            f"while the peak was measured (load average {window.load_average:.1f} on {conditions.logical_cores} "
            f"cores), and a busy machine's peak would make every % of peak too high; close them and run "
            f"`batchmark calibrate` again")
    calibration = Calibration(
        fingerprint=fingerprint_hash(machine, framework), framework=framework,
        framework_version=measured["framework_version"],
        measured_at=dt.datetime.now(dt.timezone.utc).isoformat(), seconds=measured["seconds"],
        peaks=[Peak(**peak) for peak in measured["peaks"]], conditions=conditions,
    )
    _store(calibration)
    return calibration


def _store(calibration: Calibration) -> None:
    write_atomically(cache_directory() / f"{calibration.fingerprint}.json", calibration.model_dump_json(indent=2))


def cached_or_calibrate(machine: Fingerprint | None = None, framework: str = FRAMEWORK) -> tuple[Calibration, bool]:
    """(calibration, whether it was measured just now)."""
    found = cached(machine, framework)
    return (found, False) if found is not None else (calibrate(machine, framework), True)
