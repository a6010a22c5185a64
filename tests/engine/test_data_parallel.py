"""Data-parallel rows under torchrun: the scaling efficiency, a dead rank's reason, nothing left behind, and two
"nodes" on one machine."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import psutil
import pytest

import batchmark
from batchmark import wording
from batchmark.engine.data_parallel import DataParallel, apply_scaling, group_failure, rank_reply_path, rank_threads
from batchmark.errors import UsageError
from batchmark.results import Failure, load_results


def test_ranks_split_the_cores():
    assert [rank_threads(ranks, 16) for ranks in (1, 2, 3, 32)] == [16, 8, 5, 1]


def test_torchrun_arguments_pick_a_free_port_on_one_node_and_honour_the_node_rank_on_several():
    assert "--standalone" in DataParallel(2).torchrun_arguments()
    several = DataParallel(1, nnodes=2, node_rank=1, rdzv_endpoint="127.0.0.1:29400").torchrun_arguments()
    assert {"--nnodes=2", "--node-rank=1", "--rdzv-backend=static", "--rdzv-endpoint=127.0.0.1:29400"} <= set(several)


@pytest.mark.parametrize("group, message", [
    (DataParallel(0), "--nproc-per-node must be 1 or more"),
    (DataParallel(1, nnodes=2), "needs --rdzv-endpoint"),
    (DataParallel(1, nnodes=2, node_rank=2, rdzv_endpoint="h:1"), "--node-rank must be from 0 to 1"),
    (DataParallel(1, nnodes=2, rdzv_endpoint="nohost"), "must be HOST:PORT"),
])
def test_bad_group_options_are_usage_errors(group, message):
    with pytest.raises(UsageError, match=message):
        group.check()


def test_tensorflow_and_jax_are_refused_in_one_line(tmp_path):
    with pytest.raises(UsageError, match="PyTorch-only") as raised:
        batchmark.run_suite(["mobilenetv3"], ["tensorflow"], nproc_per_node=2, output=tmp_path / "run.json")
    assert raised.value.exit_code == 2 and "\n" not in str(raised.value)


def test_the_signal_of_a_dead_rank_is_the_cause_not_its_peers_lost_connection(tmp_path):
    reply = str(tmp_path / "reply.json")
    rank_reply_path(reply, 0).write_text(Failure(kind="error", message="RuntimeError: Connection closed by peer")
                                         .model_dump_json())
    failures = tmp_path / "failures.json"
    failures.write_text(json.dumps({"ranks": [{"rank": 0, "exitcode": 1, "timestamp": 1},
                                              {"rank": 1, "exitcode": -11, "timestamp": 1}]}))
    assert group_failure(failures, reply, 2).message == "rank 1 of 2: worker crashed: segmentation fault (SIGSEGV)"
    # A rank that raised, and a peer that torchrun stopped afterwards: the one that raised.
    failures.write_text(json.dumps({"ranks": [{"rank": 1, "exitcode": -15, "timestamp": 1},
                                              {"rank": 0, "exitcode": 1, "timestamp": 1}]}))
    assert group_failure(failures, reply, 2).message == "rank 0 of 2: RuntimeError: Connection closed by peer"


def test_scaling_efficiency_is_the_reference_median_over_the_group_median(tmp_path, fake_workloads):
    outcome = batchmark.run_suite(["tiny_cnn"], nproc_per_node=2, plans=["baseline"], quick=True, steps=2,
                                  warmup=1, report=False, output=tmp_path / "run.json")
    reference, group = outcome.results.rows
    assert (reference.world_size, group.world_size) == (1, 2), [row.failure for row in outcome.results.rows]
    assert reference.status == group.status == "ok", [row.failure for row in outcome.results.rows]
    assert reference.plan == group.plan and group.plan.threads == rank_threads(2, len(os.sched_getaffinity(0)))
    assert group.measured.distributed_backend == "gloo" and group.measured.threads == group.plan.threads
    assert group.aggregate_samples_per_second == pytest.approx(2 * group.samples_per_second)
    assert group.scaling_efficiency == pytest.approx(reference.statistics.median / group.statistics.median)
    assert group.scaling_efficiency_ci_low <= group.scaling_efficiency <= group.scaling_efficiency_ci_high
    # "Fastest here" ranks one-process rows only: a rank's seconds are not a one-process row's.
    assert wording.fastest(outcome.results) == []
    assert wording.scaling(2, group).plain.startswith("[2] tiny_cnn / torch / baseline ×2 ranks: gloo, ")
    # What the history keeps comes back unchanged.
    assert batchmark.open_history().load(outcome.results.run_id).rows[1] == group
    apply_scaling(outcome.results.rows)  # derived again from the samples: the same
    assert outcome.results.rows[1] == group


def test_a_rank_whose_interpreter_teardown_aborts_still_leaves_an_ok_row(tmp_path, fake_workloads):
    # Gloo's worker threads can release their last collective's Python objects while a rank's interpreter
    # finalizes, which aborts it (SIGABRT) after its result is written: a rank skips finalization.
    outcome = batchmark.run_suite(["abort_at_exit"], nproc_per_node=2, plans=["baseline"], quick=True, steps=2,
                                  warmup=1, report=False, output=tmp_path / "run.json")
    group = outcome.results.rows[1]
    assert group.world_size == 2 and group.status == "ok", group.failure


def rank_processes(marker: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if any(marker in part for part in process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_dead_rank_fails_the_row_with_its_reason_and_leaves_nothing_behind(tmp_path, fake_workloads):
    (tmp_path / "tmp").mkdir()
    environment = {**os.environ, "TMPDIR": str(tmp_path / "tmp")}
    started = time.monotonic()
    completed = subprocess.run([sys.executable, "-m", "batchmark.cli", "run", "segfault_on_rank_1",
                                "--nproc-per-node", "2", "--plan", "baseline", "--quick", "--steps", "2",
                                "--warmup", "1", "--no-report", "--output", str(tmp_path / "run.json")],
                               env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 1, completed.stderr
    reference, group = load_results(tmp_path / "run.json").rows
    assert reference.status == "ok"  # one process: no rank 1 to die
    assert group.status == "failed" and group.failure.kind == "crash"
    assert group.failure.message == "rank 1 of 2: worker crashed: segmentation fault (SIGSEGV)"
    assert time.monotonic() - started < 240  # rank 0, left waiting in an all-reduce, was stopped, not waited for
    deadline = time.monotonic() + 5
    while rank_processes(str(tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rank_processes(str(tmp_path)) == []
    # Nothing but torch's compile cache, which is meant to outlive a run; torchrun's logs went with the run's folder.
    assert [path.name for path in (tmp_path / "tmp").iterdir() if not path.name.startswith("torchinductor_")] == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_nodes_on_one_machine_meet_and_node_0_keeps_the_row(tmp_path, fake_workloads):
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [subprocess.Popen([sys.executable, "-m", "batchmark.cli", "run", "tiny_cnn", "--nproc-per-node", "1",
                               "--nnodes", "2", "--node-rank", str(rank), "--rdzv-endpoint", endpoint,
                               "--plan", "baseline", "--quick", "--steps", "2", "--warmup", "1", "--no-report",
                               "--output", str(tmp_path / f"node{rank}.json")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in (0, 1)]
    outputs = [node.communicate(timeout=300) for node in nodes]
    if [node.returncode for node in nodes] != [0, 0]:  # each node's own last words, not a repr pytest cuts short
        pytest.fail("\n".join(f"node {rank} exited {node.returncode}:\n{out[-3000:]}\n{err[-3000:]}"
                               for rank, (node, (out, err)) in enumerate(zip(nodes, outputs))), pytrace=False)
    reference, group = load_results(tmp_path / "node0.json").rows
    assert (reference.world_size, group.world_size, group.status) == (1, 2, "ok")
    assert group.scaling_efficiency is not None
    assert load_results(tmp_path / "node1.json").rows == []  # node 1's rank reported nothing of its own
