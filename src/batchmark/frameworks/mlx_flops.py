"""FLOPs of one MLX training step, counted from the layers a forward pass calls: MLX has no counter of its own.

One formula, the convention of batchmark's other counters (2 FLOPs per multiply-accumulate of matmul and
convolution, elementwise ops, normalisation and the optimizer not counted):
- Conv2d: 2 x output elements (B x H_out x W_out x C_out) x (C_in / groups) x k_h x k_w;
- Linear: 2 x output elements x input features.
A training step is the forward pass three times (forward, the input gradient, the weight gradient: each as
many multiply-accumulates as the forward), less the input gradient of the first layer, which reads the batch
and needs none, as torch's autograd and XLA's both skip it. The transformer workloads' attention matmuls join
the formula with their MLX twins (docs/limitations.md).

The layers are found by calling the model once with their `__call__` patched to note output shapes: MLX is
lazy, so the shapes are known without computing anything.
"""

from __future__ import annotations

import contextlib

import mlx.core as mx
import mlx.nn as nn

COUNT_BATCH = 2  # as torch's counter, which needs >1 for BatchNorm in training mode


def conv2d_flops(layer: nn.Conv2d, output: mx.array) -> float:
    out_channels, kernel_h, kernel_w, in_per_group = layer.weight.shape  # MLX's weight layout
    return 2.0 * output.size * in_per_group * kernel_h * kernel_w


def linear_flops(layer: nn.Linear, output: mx.array) -> float:
    return 2.0 * output.size * layer.weight.shape[1]


FORMULAS = {nn.Conv2d: conv2d_flops, nn.Linear: linear_flops}


@contextlib.contextmanager
def recording_layers(calls: list[float]):
    """Every Conv2d and Linear called inside appends its forward FLOPs to `calls`, in call order."""
    originals = {kind: kind.__call__ for kind in FORMULAS}

    def recorder(kind):
        def call(layer, x, *args, **kwargs):
            output = originals[kind](layer, x, *args, **kwargs)
            calls.append(FORMULAS[kind](layer, output))
            return output
        return call

    try:
        for kind in FORMULAS:
            kind.__call__ = recorder(kind)
        yield calls
    finally:
        for kind, original in originals.items():
            kind.__call__ = original


def count_flops(factory, image_size: int) -> tuple[float, float]:
    """(forward, training step) FLOPs per sample of the workload's task, on a fresh task and a small batch."""
    task = factory()
    task.set_modes()
    batch = task.make_batch(COUNT_BATCH, image_size, 0)
    calls: list[float] = []
    with recording_layers(calls):
        task.loss(task.model, *batch)  # builds the graph only; nothing is evaluated
    forward = sum(calls)
    first_input_gradient = calls[0] if calls else 0.0
    return forward / COUNT_BATCH, (3 * forward - first_input_gradient) / COUNT_BATCH
