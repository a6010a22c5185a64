"""Nothing a run starts outlives it: workers that die with their parent, temporary folders that are removed
even after a `kill -9`, and a SIGTERM told apart from a Ctrl-C.

A worker runs in its own session (so that Ctrl-C reaches the parent only) and only the parent enforces its
time-out, so a parent killed with SIGKILL used to leave its worker running, timed by nobody and holding the
CPU that the next run measures on. Now the worker is tied to the parent twice: on Linux the kernel kills it
when the parent dies (PR_SET_PDEATHSIG), and on every system a thread in the worker waits on a pipe whose
write end only the parent holds, and ends the worker when that pipe closes. A killed parent cannot remove
its temporary folder, so each folder names its owner, and the next run removes the folders of owners that
are gone (the worker's thread removes it at once where it gets the chance).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import psutil

from batchmark.errors import Interrupted, Terminated

OWNER_FILE = ".batchmark-owner"  # in a temporary folder: "PID START_TIME" of the process that made it
FOLDER_PREFIX = "batchmark-"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


# Temporary folders ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def owned_folder(prefix: str) -> Iterator[Path]:
    """A temporary folder that names this process as its owner, removed on the way out. Stale folders of
    owners that died first (kill -9, a power cut) are removed before it is made."""
    assert prefix.startswith(FOLDER_PREFIX)
    sweep_stale_folders()
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        (Path(folder) / OWNER_FILE).write_text(_identity(psutil.Process()))
        yield Path(folder)


def sweep_stale_folders(parent: Path | None = None) -> list[Path]:
    """Remove batchmark's temporary folders whose owner process is gone; returns them. A folder without an
    owner file is left alone: it may be one being made this instant, or one that an older batchmark made."""
    removed = []
    for folder in Path(parent or tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        owner = _read_owner(folder)
        if owner is not None and not _alive(*owner):
            shutil.rmtree(folder, ignore_errors=True)  # another run may be sweeping it too
            removed.append(folder)
    return removed


def _identity(process: psutil.Process) -> str:
    return f"{process.pid} {process.create_time()!r}"


def _read_owner(folder: Path) -> tuple[int, float] | None:
    try:
        pid, started = (folder / OWNER_FILE).read_text().split()
        return int(pid), float(started)
    except (OSError, ValueError):
        return None


def _alive(pid: int, started: float) -> bool:
    """Whether the process that wrote an owner file still runs: the same pid and start time (a pid can be
    reused by an unrelated process once its owner is gone)."""
    try:
        return abs(psutil.Process(pid).create_time() - started) < 0.01  # within a clock tick
    except psutil.Error:
        return False


# Workers ------------------------------------------------------------------------------------------------------

class Lifeline:
    """A pipe whose write end only this process holds. A worker started with `command` and `pass_fds=fds`
    reads from the other end; when this process ends, however it ends, the kernel closes the write end and
    the worker reads end-of-file (`die_with_parent`)."""

    def __init__(self) -> None:
        self.read_end, self.write_end = os.pipe()  # neither is inherited by other children (PEP 446)

    @property
    def fds(self) -> tuple[int]:
        return (self.read_end,)

    def command(self, *arguments: str) -> list[str]:
        return [sys.executable, "-m", "batchmark.engine.worker", "--parent", str(os.getpid()),
                "--lifeline", str(self.read_end), *arguments]

    def __enter__(self) -> Lifeline:
        return self

    def __exit__(self, *exception) -> None:
        os.close(self.read_end)
        os.close(self.write_end)


def die_with_parent(parent_pid: int, lifeline: int | None, folder: Path | None = None) -> None:
    """In a worker: end this process as soon as the parent `parent_pid` ends, and then remove `folder` when the
    parent made it (its owner file names the parent)."""
    if sys.platform.startswith("linux"):
        # The kernel's way: SIGKILL the moment the parent dies, even inside a long native call.
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    # The parent may have died before that took effect (this process has been handed to another parent then),
    # or the system has no such call: the pipe's end-of-file says so, on every system.
    if os.getppid() != parent_pid:
        _abandoned(parent_pid, folder)
    if lifeline is not None:
        threading.Thread(target=_watch, args=(lifeline, parent_pid, folder), name="batchmark-lifeline",
                         daemon=True).start()


def _watch(lifeline: int, parent_pid: int, folder: Path | None) -> None:
    while os.read(lifeline, 1):  # nobody writes: this returns only at end-of-file, when the parent is gone
        pass
    _abandoned(parent_pid, folder)


def _abandoned(parent_pid: int, folder: Path | None) -> None:
    if folder is not None and (_read_owner(folder) or (None,))[0] == parent_pid:
        shutil.rmtree(folder, ignore_errors=True)
    if os.getpgrp() == os.getpid():  # a worker leads its own group: take along anything it started
        os.killpg(os.getpid(), signal.SIGKILL)
    os._exit(1)


# Signals -------------------------------------------------------------------------------------------------------

class SigtermReceived(KeyboardInterrupt):
    """Raised by the handler `stop_on_sigterm` installs. A KeyboardInterrupt, so that every path that keeps a
    Ctrl-C's work keeps a SIGTERM's too; its own class, so that the run says which it was."""


def stop_on_sigterm() -> None:
    """From now on SIGTERM (`kill`, a CI job's time-out) stops this process as Ctrl-C does: the rows finished so
    far are kept, the workers are killed, and the exit code is 143 instead of 130."""
    signal.signal(signal.SIGTERM, _raise_sigterm)


def _raise_sigterm(signum, frame) -> None:
    raise SigtermReceived


def interruption(stop: BaseException, before: str = "") -> Interrupted:
    """The error to end with after `stop` (a Ctrl-C, a SIGTERM, or an Interrupted already made)."""
    if isinstance(stop, Interrupted) and str(stop):
        return stop
    sigterm = isinstance(stop, (SigtermReceived, Terminated))
    message = f"stopped by {'SIGTERM' if sigterm else 'Ctrl-C'}{before}"
    return Terminated(message) if sigterm else Interrupted(message)
