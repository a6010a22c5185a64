"""Run by torchrun in tests/frameworks/test_torch_distributed.py: one rank takes one DDP step of the tiny CNN on its
own data (seed + rank) and saves its weights afterwards, for the test to compare across ranks."""

import sys
from pathlib import Path

import torch

import tests.plugins.fake_workloads  # noqa: F401  (registers tiny_cnn)
from batchmark.frameworks.torch_backend import TorchBackend
from batchmark.plans import Plan


def main(output: Path) -> None:
    prepared = TorchBackend().prepare("tiny_cnn", Plan(threads=1), 4, 16, 0, None, data_parallel=True)
    session = prepared.session
    session.step()
    session.synchronize()
    weights = torch.cat([parameter.detach().flatten() for parameter in session.task.model.module.parameters()])
    torch.save(weights, output / f"rank{torch.distributed.get_rank()}.pt")
    session.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
