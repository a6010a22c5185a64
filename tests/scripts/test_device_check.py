"""scripts/device-check.sh as far as a machine without a GPU can run it: its arguments, its dry run, and the one
line it stops with when there is no GPU."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "scripts" / "device-check.sh"
CONSTRAINTS = (Path(__file__).parents[2] / "constraints.txt").read_text()


def check(*arguments: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(SCRIPT), *arguments], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("arguments", [(), ("--dry-run",), ("--bogus", "out"), ("a", "b"), ("--wheels",),
                                       ("--deadline", "soon", "out")])
def test_bad_arguments_are_a_usage_error(arguments):
    done = check(*arguments)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("usage: scripts/device-check.sh")


def test_the_dry_run_prints_every_stage_and_installs_nothing(tmp_path):
    work = tmp_path / "work"
    done = check("--dry-run", str(tmp_path / "out"), env={"DEVICE_CHECK_WORK": str(work)})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "nvidia-smi -L"
    text = done.stdout
    for command in ("batchmark info", "batchmark calibrate", "run --quick --device cuda",
                    "tune resnet50v2_finetune", "--plan tuned --budget", "--batch-size 256", "batchmark report"):
        assert command in text, command
    # Every stage is under a time limit, and they fit the deadline's 8 minutes only through it (see the script).
    assert all(line.startswith("timeout ") for line in lines[1:])
    # The framework versions are constraints.txt's (the CUDA extras and the shell's quoting aside).
    requested = re.sub(r"\[[a-z0-9-]+\]", "", text.replace("\\", ""))
    for name in ("torch", "tensorflow", "keras", "jax", "jaxlib", "nvidia-ml-py"):
        pinned = next(line for line in CONSTRAINTS.splitlines() if line.startswith(f"{name}=="))
        assert pinned in requested.split(), pinned
    assert "tensorflow[and-cuda]==" in text.replace("\\", "") and "jax[cuda13]==" in text.replace("\\", "")
    assert not work.exists() and not (tmp_path / "out").exists()


def test_offline_wheels_replace_the_indexes(tmp_path):
    done = check("--dry-run", "--wheels", "/carried/wheels", str(tmp_path / "out"))
    assert done.returncode == 0
    installs = [line for line in done.stdout.splitlines() if " -m pip install " in line]
    assert installs and all("--no-index --find-links /carried/wheels" in line for line in installs)
    assert "download.pytorch.org" not in done.stdout


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_without_a_gpu_it_stops_with_one_line_and_installs_nothing(tmp_path):
    work = tmp_path / "work"
    done = check(str(tmp_path / "out"), env={"DEVICE_CHECK_WORK": str(work)})
    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        "device-check: no NVIDIA GPU: nvidia-smi is not installed (this check needs a Linux machine with an NVIDIA "
        "GPU and driver)"]
    assert (tmp_path / "out" / "device-check.log").read_text().startswith("device-check: no NVIDIA GPU")
    assert not work.exists()


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="this machine has an NVIDIA driver")
def test_a_driver_that_lists_no_gpu_is_one_line_too(tmp_path):
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "nvidia-smi").write_text("#!/bin/sh\necho 'No devices were found'\nexit 6\n")
    (fake / "nvidia-smi").chmod(0o755)
    done = check(str(tmp_path / "out"), env={"PATH": f"{fake}:{os.environ['PATH']}",
                                             "DEVICE_CHECK_WORK": str(tmp_path / "work")})
    assert done.returncode == 3
    assert done.stderr.strip() == "device-check: no NVIDIA GPU: nvidia-smi lists none (No devices were found)"
