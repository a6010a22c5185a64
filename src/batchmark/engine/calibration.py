"""The machine's measured peak, cached per machine fingerprint: the limit that "% of peak" is measured against.

Calibrating runs `batchmark.frameworks.torch_peak` in a subprocess (the parent never imports a framework)
and caches the result under the user cache directory, keyed by the hardware fingerprint and the framework
version: another machine, another GPU or another torch build is calibrated afresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import subprocess
import sys
import tempfile
from pathlib import Path

import platformdirs
from pydantic import ValidationError

from batchmark.errors import CalibrationError
from batchmark.files import write_atomically
from batchmark.frameworks import installed_version
from batchmark.machine import Fingerprint, fingerprint
from batchmark.results import Calibration, Peak

CALIBRATION_TIMEOUT_SECONDS = 600
FRAMEWORK = "torch"  # the peak is the hardware's; torch's matmul and conv paths are what measure it


def hardware_key(machine: Fingerprint) -> dict:
    """The fingerprint fields a peak depends on: the hardware, and the framework that measured it."""
    return {"cpu": machine.cpu.model_dump(), "memory_bytes": machine.memory_bytes,
            "gpus": [gpu.model_dump(include={"kind", "name", "driver", "compute_capability"}) for gpu in machine.gpus],
            "framework": FRAMEWORK, "framework_version": machine.frameworks.get(FRAMEWORK)}


def fingerprint_hash(machine: Fingerprint) -> str:
    return hashlib.sha256(json.dumps(hardware_key(machine), sort_keys=True).encode()).hexdigest()


def cache_directory() -> Path:
    return platformdirs.user_cache_path("batchmark") / "calibration"


def cached(machine: Fingerprint | None = None) -> Calibration | None:
    """This machine's calibration, if one was measured with this hardware and framework version."""
    key = fingerprint_hash(machine or fingerprint())
    path = cache_directory() / f"{key}.json"
    try:
        calibration = Calibration.model_validate_json(path.read_text())
    except (OSError, ValidationError):
        return None
    return calibration if calibration.fingerprint == key else None


def calibrate(machine: Fingerprint | None = None) -> Calibration:
    """Measure the peaks now (about 10 s on a CPU) and cache them."""
    machine = machine or fingerprint()
    if installed_version(FRAMEWORK) is None:
        raise CalibrationError("calibrating needs PyTorch: pip install -c constraints.txt -e '.[torch]'")
    with tempfile.TemporaryDirectory(prefix="batchmark-calibrate-") as folder:
        reply = Path(folder) / "peaks.json"
        try:
            completed = subprocess.run([sys.executable, "-m", "batchmark.frameworks.torch_peak", str(reply)],
                                       capture_output=True, text=True, timeout=CALIBRATION_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            raise CalibrationError(f"calibration took more than {CALIBRATION_TIMEOUT_SECONDS} s") from None
        if completed.returncode != 0 or not reply.exists():
            lines = [line for line in completed.stderr.splitlines() if line.strip()]
            raise CalibrationError(f"calibration failed (exit {completed.returncode}): "
                                   f"{lines[-1] if lines else 'no output'}")
        measured = json.loads(reply.read_text())
    calibration = Calibration(
        fingerprint=fingerprint_hash(machine), framework=FRAMEWORK, framework_version=measured["framework_version"],
        measured_at=dt.datetime.now(dt.timezone.utc).isoformat(), seconds=measured["seconds"],
        peaks=[Peak(**peak) for peak in measured["peaks"]],
    )
    _store(calibration)
    return calibration


def _store(calibration: Calibration) -> None:
    write_atomically(cache_directory() / f"{calibration.fingerprint}.json", calibration.model_dump_json(indent=2))


def cached_or_calibrate(machine: Fingerprint | None = None) -> tuple[Calibration, bool]:
    """(calibration, whether it was measured just now)."""
    found = cached(machine)
    return (found, False) if found is not None else (calibrate(machine), True)
