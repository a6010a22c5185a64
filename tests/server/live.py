"""`batchmark serve` in a subprocess on a free port of 127.0.0.1: started, waited for, always killed."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def live_server(database: str, env: dict | None = None, ready_seconds: float = 60, arguments: tuple[str, ...] = ()):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([sys.executable, "-m", "batchmark.cli", "serve", "--db", database, "--host", "127.0.0.1",
                                "--port", str(port), "--log-level", "warning", *arguments],
                               env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + ready_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"batchmark serve exited with {process.returncode}: {process.stdout.read()}")
            try:
                if httpx.get(f"{url}/api/v1/runs", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"batchmark serve did not answer on {url} within {ready_seconds} s")
            time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        process.stdout.close()
