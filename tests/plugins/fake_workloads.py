"""Test workloads: a tiny CNN that trains for real, and ones that fail the ways real workloads do.

Each failure is produced by the real mechanism (a real allocation the allocator refuses, a real
SIGSEGV, a real hang), inside a real worker, so the parent's handling is what is under test.
"""

from __future__ import annotations

import atexit
import os
import signal
import time

from batchmark.workloads.registry import Workload, implements, register_workload


def _spec(name: str, description: str, trainable_parameters: int | None = None) -> Workload:
    return register_workload(Workload(
        name=name, description=description, inputs="images (B, 3, S, S), labels (B,) in 0..9",
        loss="cross-entropy; Adam", trains="all", trainable_parameters=trainable_parameters, batch_size=4,
        image_size=16, min_image_size=8, image_multiple=1, quick_batch_size=2, quick_image_size=16,
    ))


# Conv(3->8, 3x3) + Conv(8->8, 3x3) + Linear(8->10), each with a bias.
_spec("tiny_cnn", "two convolutions and a linear head", trainable_parameters=(3 * 9 + 1) * 8 + (8 * 9 + 1) * 8 + 9 * 10)
# Workloads that never build, on purpose: the per-workload training checks leave these out.
FAILURE_MODES = {"segfault": "dies of SIGSEGV while building", "oom": "asks the allocator for 64 TiB",
                 "hang": "never finishes building", "broken": "raises an ordinary exception",
                 "segfault_on_rank_1": "a tiny CNN, except that rank 1 of a data-parallel row dies of SIGSEGV "
                                       "after its first step, while rank 0 waits for it in the next all-reduce",
                 "abort_at_exit": "a tiny CNN, except that every rank of a data-parallel row aborts in Python's "
                                  "finalization, as gloo's worker threads can make it do"}
for _name, _description in FAILURE_MODES.items():
    _spec(_name, _description)


def tiny_cnn_task():
    import torch
    from torch import nn

    from batchmark.workloads.torch.task import ClassifierTask

    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10),
    )
    torch.nn.init.zeros_(model[-1].bias)
    return ClassifierTask(model, num_classes=10)


implements("torch", "tiny_cnn")(tiny_cnn_task)


@implements("mlx", "tiny_cnn")
def tiny_cnn_mlx_task():
    """The same network in MLX (channels-last), for real MLX rows that cost a second."""
    import mlx.core as mx
    from mlx import nn

    from batchmark.workloads.mlx.task import ClassifierTask

    class TinyCnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
            self.conv2 = nn.Conv2d(8, 8, 3, stride=2, padding=1)
            self.head = nn.Linear(8, 10)
            self.head.bias = mx.zeros((10,))

        def __call__(self, images):  # (B, S, S, 3)
            x = nn.relu(self.conv2(nn.relu(self.conv1(images))))
            return self.head(x.mean(axis=(1, 2)))

    return ClassifierTask(TinyCnn(), num_classes=10)


@implements("torch", "segfault_on_rank_1")
def _segfault_on_rank_1():
    task = tiny_cnn_task()
    if os.environ.get("RANK") == "1":
        objectives, steps = task.objectives, 0

        def first_step_then_segfault(batch):
            nonlocal steps
            steps += 1
            if steps > 1:
                os.kill(os.getpid(), signal.SIGSEGV)
            return objectives(batch)

        task.objectives = first_step_then_segfault
    return task


@implements("torch", "abort_at_exit")
def _abort_at_exit():
    """Python's finalization in a rank aborts, as it does when a gloo worker thread releases its last work while
    the interpreter finalizes (see engine/worker.py): an exit handler that calls abort() stands in for that race,
    which needs a busy machine to show."""
    if "RANK" in os.environ:
        atexit.register(os.abort)
    return tiny_cnn_task()


@implements("torch", "segfault")
def _segfault():
    os.kill(os.getpid(), signal.SIGSEGV)


@implements("torch", "oom")
def _oom():
    import torch

    torch.empty(2**44, dtype=torch.float32)  # 64 TiB: the CPU allocator refuses it


@implements("torch", "hang")
def _hang():
    time.sleep(3600)


@implements("torch", "broken")
def _broken():
    raise ValueError("this workload is broken on purpose")
