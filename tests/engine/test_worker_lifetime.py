"""Nothing `batchmark run` starts outlives it: its workers and device probes die with it, however it dies, and its
temporary folders go too (at once, or swept by the next run when the parent was killed outright)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from batchmark.engine.lifetime import OWNER_FILE, owned_folder, sweep_stale_folders

GONE_WITHIN = 5.0  # seconds: a dead parent's worker must not outlive it by more


def start_run(tmp_path: Path, *workloads: str) -> subprocess.Popen:
    """`batchmark run` of the test workloads, with its own temporary directory so that what it leaves is visible."""
    (tmp_path / "tmp").mkdir()
    environment = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    return subprocess.Popen([sys.executable, "-m", "batchmark.cli", "run", *workloads, "--framework", "torch",
                             "--plan", "baseline", "--quick", "--output", str(tmp_path / "results.json")],
                            env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_child(parent: subprocess.Popen, probe: bool) -> psutil.Process:
    """The parent's worker (or device probe), once it has started."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for child in psutil.Process(parent.pid).children(recursive=True):
            try:
                command = child.cmdline()
            except psutil.Error:
                continue
            if "batchmark.engine.worker" in command and ("--probe" in command) == probe:
                return child
        if parent.poll() is not None:
            pytest.fail(f"batchmark run ended first: {parent.communicate()[1]}")
        time.sleep(0.02)
    parent.kill()
    pytest.fail("the worker never started")


def assert_gone(process: psutil.Process) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while time.monotonic() < deadline:
        if not process.is_running() or process.status() == psutil.STATUS_ZOMBIE:
            return
        time.sleep(0.05)
    process.kill()
    pytest.fail(f"{' '.join(process.cmdline())} outlived its parent by {GONE_WITHIN} s")


def leftovers(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "tmp").glob("batchmark-*"))


@pytest.mark.parametrize("probe", [False, True], ids=["worker", "device-probe"])
def test_kill_9_of_the_parent_takes_its_worker_along(tmp_path, fake_workloads, probe):
    parent = start_run(tmp_path, "hang")
    child = wait_for_child(parent, probe)
    time.sleep(0.2)  # past the child's start-up, into its work
    parent.kill()
    parent.communicate()
    assert_gone(child)
    # A killed parent cannot clean up: its folder names its dead owner, and the next run sweeps it away.
    for folder in leftovers(tmp_path):
        assert (folder / OWNER_FILE).exists()
    sweep_stale_folders(tmp_path / "tmp")
    assert leftovers(tmp_path) == []


def test_sigterm_during_the_device_probe_stops_the_probe_and_cleans_up(tmp_path, fake_workloads):
    parent = start_run(tmp_path, "tiny_cnn")
    child = wait_for_child(parent, probe=True)
    parent.send_signal(signal.SIGTERM)
    _, stderr = parent.communicate(timeout=60)
    assert parent.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "stopped by SIGTERM before any workload ran; nothing to save"
    assert_gone(child)
    assert leftovers(tmp_path) == []


def test_a_worker_ends_by_the_pipe_alone_where_the_kernel_cannot_help(tmp_path):
    """The portable way (macOS has no PR_SET_PDEATHSIG): the worker sees its parent's pipe close, removes the
    parent's folder and ends."""
    parent_script = textwrap.dedent("""
        import subprocess, sys, time
        from batchmark.engine.lifetime import Lifeline, owned_folder
        with owned_folder("batchmark-run-") as folder, Lifeline() as lifeline:
            worker = ("import sys, time; from batchmark.engine.lifetime import die_with_parent; "
                      "sys.platform = 'darwin'; die_with_parent(int(sys.argv[1]), int(sys.argv[2]), "
                      "__import__('pathlib').Path(sys.argv[3])); print('ready', flush=True); time.sleep(60)")
            child = subprocess.Popen([sys.executable, "-c", worker, str(__import__('os').getpid()),
                                      str(lifeline.read_end), str(folder)], pass_fds=lifeline.fds)
            print(child.pid, folder, flush=True)
            time.sleep(60)
    """)
    (tmp_path / "tmp").mkdir()
    parent = subprocess.Popen([sys.executable, "-c", parent_script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path / "tmp")})
    pid, folder = parent.stdout.readline().split()
    worker = psutil.Process(int(pid))
    assert parent.stdout.readline() == "ready\n"  # the worker writes to the same pipe, once it is watching
    assert Path(folder).is_dir()
    parent.kill()
    parent.wait()
    assert_gone(worker)
    assert not Path(folder).exists()


def test_the_sweep_removes_only_folders_whose_owner_is_gone(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / "batchmark-run-dead"
    dead.mkdir()
    (dead / OWNER_FILE).write_text(f"{ended.pid} {psutil.Process().create_time()!r}")
    reused = tmp_path / "batchmark-run-reused"  # a live pid, but not the process that made the folder
    reused.mkdir()
    (reused / OWNER_FILE).write_text(f"{os.getpid()} 12345.0")
    unowned = tmp_path / "batchmark-suite-time-last"  # not made by owned_folder: never touched
    unowned.mkdir()
    with owned_folder("batchmark-run-") as mine:
        assert sorted(tmp_path.iterdir()) == sorted([mine, unowned])
        assert sweep_stale_folders() == []  # this process is alive: its folder stays
    assert not mine.exists() and unowned.exists()
