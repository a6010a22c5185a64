"""PyTorch data parallelism for one rank of a torchrun group: the process group, DistributedDataParallel, and a
session whose steps end with every rank synchronized. Imported only inside a rank's worker.

Weak scaling: every rank trains the workload's own batch, made from `seed + rank` so that the ranks really see
different data and DDP's averaged gradients differ from any one rank's. The weights start from `seed` on every
rank (and DDP broadcasts rank 0's at construction anyway).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from batchmark.errors import Unsupported


@dataclass(frozen=True)
class Rank:
    rank: int  # global: 0 reports
    local_rank: int  # on this node: which GPU
    world_size: int


def join_group(device: str) -> tuple[Rank, str]:
    """Join the process group torchrun described in the environment: NCCL between GPUs, gloo between CPUs."""
    backend = "nccl" if device == "cuda" else "gloo"
    rank = Rank(int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"]), int(os.environ["WORLD_SIZE"]))
    if device == "cuda":
        torch.cuda.set_device(rank.local_rank)  # before any CUDA work: "cuda" then means this rank's GPU
    if not dist.is_initialized():
        dist.init_process_group(backend)
    return rank, backend


def wrap_trained_network(task, device: str) -> None:
    """Replace the task's one trained network by DistributedDataParallel around it, wherever the task holds it
    (`task.networks` and the attributes its `objectives` use), so that its backward averages the gradients."""
    trained = [name for name, network in task.networks.items()
               if any(parameter.requires_grad for parameter in network.parameters())]
    if len(trained) != 1:
        raise Unsupported(f"data-parallel runs need a workload that trains one network; this one trains "
                          f"{len(trained)} ({', '.join(trained)}), each with its own loss, which one DDP backward "
                          f"per step cannot express")
    network = task.networks[trained[0]]
    wrapped = DistributedDataParallel(network, device_ids=[torch.cuda.current_device()] if device == "cuda" else None)
    task.networks[trained[0]] = wrapped
    for attribute, value in list(vars(task).items()):
        if value is network:
            setattr(task, attribute, wrapped)


class DataParallelSession:
    """A rank's session: the plain step, and a synchronization that waits for the device and then for every
    other rank, so a timed step starts and ends together on all of them."""

    def __init__(self, session, backend: str):
        self.session = session
        self.backend = backend
        self.task = session.task  # the FLOP counter reads the task

    def step(self):
        return self.session.step()

    def synchronize(self) -> None:
        self.session.synchronize()
        if self.backend == "nccl":
            dist.barrier(device_ids=[torch.cuda.current_device()])
        else:
            dist.barrier()

    def read_loss(self, handle) -> float:
        return self.session.read_loss(handle)

    def slowest(self, seconds: float) -> float:
        """The step's time on the slowest rank. Every rank gets the same list of step times, so the stop rule,
        run on each, stops them all at the same step."""
        device = "cuda" if self.backend == "nccl" else "cpu"
        value = torch.tensor([seconds], dtype=torch.float64, device=device)
        dist.all_reduce(value, op=dist.ReduceOp.MAX)
        return float(value.item())

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
