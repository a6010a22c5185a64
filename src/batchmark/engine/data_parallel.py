"""Data-parallel rows: one row trained by several processes under PyTorch's own launcher, torchrun.

The parent starts `python -m batchmark.engine.data_parallel ... -- TORCHRUN_ARGS`, which ties itself to the
parent (as a worker does, engine/lifetime.py) and then runs torchrun's own `run()` in-process, so that the
arguments mean exactly what they mean to `python -m torch.distributed.run`, and so that torchrun's
ChildFailedError (which rank failed, how) can be written down for the parent instead of a printed table.
torchrun starts each rank in a session of its own, where killing the launcher's process group would not reach
it; each rank therefore asks the kernel to kill it when the launcher dies (the launcher's pid is in
AGENT_VARIABLE), so a time-out or Ctrl-C that kills the launcher's group takes every rank with it.

Ranks report as a worker does, with two differences: only global rank 0 writes the reply of a row that
succeeds, and a rank that fails writes its Failure to a file of its own (`rank_reply_path`), so that the row
fails with the reason of the rank that caused it rather than the peers that lost their connection to it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from batchmark.errors import UsageError
from batchmark.engine.lifetime import die_with_parent
from batchmark.engine.stats import median_ratio_ci
from batchmark.results import Failure, Row, shape_of

AGENT_VARIABLE = "BATCHMARK_TORCHRUN_AGENT"  # in a rank: the pid of the launcher that started it
# How torchrun stops the ranks that are still running once one has failed: their deaths are consequences.
STOP_SIGNAL = signal.SIGTERM


@dataclass(frozen=True)
class DataParallel:
    """How many processes train one row, and where they meet: torchrun's own options."""

    nproc_per_node: int
    nnodes: int = 1
    node_rank: int = 0
    rdzv_endpoint: str | None = None  # HOST:PORT of node 0; None on one node (a free port is picked)

    @property
    def world_size(self) -> int:
        return self.nproc_per_node * self.nnodes

    @property
    def records(self) -> bool:
        """Whether this node keeps the results: global rank 0 lives on node 0."""
        return self.node_rank == 0

    def check(self) -> None:
        if self.nproc_per_node < 1:
            raise UsageError(f"--nproc-per-node must be 1 or more, got {self.nproc_per_node}.")
        if self.nnodes < 1:
            raise UsageError(f"--nnodes must be 1 or more, got {self.nnodes}.")
        if not 0 <= self.node_rank < self.nnodes:
            raise UsageError(f"--node-rank must be from 0 to {self.nnodes - 1} (--nnodes {self.nnodes}), "
                             f"got {self.node_rank}.")
        if self.nnodes > 1 and not self.rdzv_endpoint:
            raise UsageError("--nnodes above 1 needs --rdzv-endpoint HOST:PORT, the same on every node: node 0's "
                             "address and a free port there.")
        if self.rdzv_endpoint and not _is_endpoint(self.rdzv_endpoint):
            raise UsageError(f"--rdzv-endpoint {self.rdzv_endpoint!r} must be HOST:PORT, e.g. 10.0.0.1:29500.")

    def torchrun_arguments(self) -> list[str]:
        """torchrun's options for one row. One node: `--standalone`, whose rendezvous takes a free port, so a port
        in use is never a failure. Several: the static rendezvous at the endpoint, where --node-rank decides the
        ranks (the c10d rendezvous ignores it), so global rank 0, the one that reports, is on node 0."""
        common = [f"--nproc-per-node={self.nproc_per_node}", "--max-restarts=0", "--monitor-interval=0.1"]
        if self.nnodes == 1 and not self.rdzv_endpoint:
            return [*common, "--standalone"]
        return [*common, f"--nnodes={self.nnodes}", f"--node-rank={self.node_rank}", "--rdzv-backend=static",
                f"--rdzv-endpoint={self.rdzv_endpoint}"]


def _is_endpoint(text: str) -> bool:
    host, _, port = text.rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def rank_threads(nproc_per_node: int, cores: int) -> int:
    """On a CPU the ranks of one node split its cores: each gets floor(cores / ranks), at least one."""
    return max(1, cores // nproc_per_node)


def rank_reply_path(reply_path: str, rank: int) -> Path:
    return Path(f"{reply_path}.rank{rank}")


def launcher_command(executable: str, parent: int, lifeline: int, failures: Path, torchrun: list[str],
                     spec_path: Path) -> list[str]:
    return [executable, "-m", "batchmark.engine.data_parallel", "--parent", str(parent), "--lifeline", str(lifeline),
            "--failures", str(failures), "--", *torchrun, "-m", "batchmark.engine.worker", str(spec_path)]


# The parent: a group's row against its reference ---------------------------------------------------------------

def apply_scaling(rows: list[Row]) -> None:
    """Each group row's aggregate throughput, and its scaling efficiency against the one-process row of the same
    workload, plan (threads included) and sizes: aggregate throughput / (world size x one-process throughput),
    which for weak scaling is the one-process median / the group's median, with the bootstrap 95% CI of that
    ratio of medians. Derived from the samples; a reader (the server) recomputes it rather than trust it."""
    for row in rows:
        row.aggregate_samples_per_second = row.scaling_efficiency = None
        row.scaling_efficiency_ci_low = row.scaling_efficiency_ci_high = None
        if row.status != "ok" or row.world_size == 1:
            continue
        row.aggregate_samples_per_second = row.world_size * row.batch_size / row.statistics.median
        reference = next((other for other in rows if other.status == "ok" and other.world_size == 1
                          and shape_of(other) == shape_of(row) and other.plan == row.plan), None)
        if reference is not None:
            (row.scaling_efficiency, row.scaling_efficiency_ci_low,
             row.scaling_efficiency_ci_high) = median_ratio_ci(row.measured.step_seconds,
                                                               reference.measured.step_seconds)


# The parent: why a row's ranks failed ----------------------------------------------------------------------------

def group_failure(failures: Path, reply_path: str, world_size: int) -> Failure | None:
    """The reason of the rank that brought the row down, or None when the launcher reported no failure. A rank
    that died of a signal (a segfault, the out-of-memory killer) is the cause, before any rank that raised (its
    peers raise too, once their connection to it is gone); among those that raised, the first to fail; a rank
    that torchrun stopped itself is never the cause."""
    try:
        report = json.loads(failures.read_text())
    except (OSError, ValueError):
        return None
    if report.get("error"):
        return Failure(kind="error", message=f"torchrun failed: {report['error']}")
    ranks = report.get("ranks", [])
    for rank in ranks:
        if rank["exitcode"] < 0 and -rank["exitcode"] != STOP_SIGNAL:
            return _of_rank(rank["rank"], world_size, signal_failure(rank["exitcode"]))
    replies = []
    for rank in range(world_size):
        path = rank_reply_path(reply_path, rank)
        if path.exists():
            replies.append((path.stat().st_mtime_ns, rank, Failure.model_validate_json(path.read_text())))
    if replies:
        _, rank, failure = min(replies, key=lambda item: item[:2])
        return _of_rank(rank, world_size, failure)
    if ranks:
        first = ranks[0]
        return _of_rank(first["rank"], world_size, Failure(kind="crash", message=(
            f"exited {first['exitcode']} without a result" if first["exitcode"] >= 0 else
            f"stopped by {signal.Signals(-first['exitcode']).name}")))
    return None


def _of_rank(rank: int, world_size: int, failure: Failure) -> Failure:
    return failure.model_copy(update={"message": f"rank {rank} of {world_size}: {failure.message}"})


def signal_failure(returncode: int) -> Failure:
    """A process killed by a signal, as a failed row says it."""
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL:
        return Failure(kind="oom", message=f"worker killed by {name}: most likely the kernel's out-of-memory killer")
    if number == signal.SIGSEGV:
        return Failure(kind="crash", message=f"worker crashed: segmentation fault ({name})")
    return Failure(kind="crash", message=f"worker died of {name}")


# The launcher process -------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m batchmark.engine.data_parallel")
    parser.add_argument("--parent", type=int, required=True, help="the pid of the parent: this process ends with it")
    parser.add_argument("--lifeline", type=int, required=True, help="the read end of the parent's lifeline pipe")
    parser.add_argument("--failures", type=Path, required=True, help="where to write why the ranks failed")
    parser.add_argument("torchrun", nargs=argparse.REMAINDER, help="-- then torchrun's arguments")
    arguments = parser.parse_args(argv[1:])
    die_with_parent(arguments.parent, arguments.lifeline, arguments.failures.parent)
    os.environ[AGENT_VARIABLE] = str(os.getpid())
    torchrun = arguments.torchrun[1:] if arguments.torchrun[:1] == ["--"] else arguments.torchrun

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    try:
        run(parse_args(torchrun))
    except ChildFailedError as error:
        ranks = [{"rank": rank, "exitcode": failure.exitcode, "timestamp": failure.timestamp}
                 for rank, failure in sorted(error.failures.items(), key=lambda item: item[1].timestamp)]
        arguments.failures.write_text(json.dumps({"ranks": ranks}))
        return 1
    except Exception as error:  # a rendezvous that timed out, an endpoint that cannot be reached
        arguments.failures.write_text(json.dumps({"error": f"{type(error).__name__}: {error}".splitlines()[0]}))
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
