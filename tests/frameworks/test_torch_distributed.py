"""DDP in a rank: two ranks on different data end a step with the same, averaged, weights."""

import os
import subprocess
import sys

import torch

from batchmark.frameworks.torch_backend import TorchBackend
from batchmark.plans import Plan
from tests.conftest import REPO


def test_two_ranks_average_their_gradients(tmp_path, fake_workloads):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    completed = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
                                str(REPO / "tests" / "frameworks" / "ddp_report.py"), str(tmp_path)],
                               cwd=REPO, env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rank0, rank1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert torch.equal(rank0, rank1)  # DDP kept the replicas identical
    # One process on rank 0's own data (seed + 0) from the same initial weights: a different step, so the ranks'
    # gradients were really averaged with rank 1's, which came from other data.
    alone = TorchBackend().prepare("tiny_cnn", Plan(threads=1), 4, 16, 0, None).session
    alone.step()
    weights = torch.cat([parameter.detach().flatten() for parameter in alone.task.model.parameters()])
    assert weights.shape == rank0.shape
    assert not torch.allclose(weights, rank0)
