"""FLOPs of one MLX training step, counted from the layers a forward pass calls: MLX has no counter of its own.

One formula, the convention of batchmark's other counters (2 FLOPs per multiply-accumulate of matmul and
convolution, elementwise ops, normalisation and the optimizer not counted):
- Conv2d: 2 x output elements (B x H_out x W_out x C_out) x (C_in / groups) x k_h x k_w;
- ConvTranspose2d: 2 x input elements (B x H_in x W_in x C_in) x C_out x k_h x k_w, as torch counts it;
- Linear: 2 x output elements x input features;
- GramMatrix (style transfer's loss): 2 x B x C x C x H x W.
Backward, per layer call, as torch's autograd runs it and its counter counts it: the weight gradient costs the
forward, for a layer whose weights train (a frozen loss network's get none); the input gradient costs the
forward (twice it for a layer that multiplies two activations: attention, the Gram matrix), for a layer whose
input depends on the weights being trained (the first layer of a network fed the batch needs none).
A task may have several networks and several losses, each loss differentiated with respect to its own
network's weights only (CycleGAN's four; `losses_of` and `optimizers_of` in workloads/mlx/task.py). So the
count follows the data at the level of networks: it notes which trained networks each network's input came
from (the output of one network fed straight into another, as every task here does), and for each loss
counts the backward of the calls of its own network (weight and input gradients) and of every network call
downstream of it (input gradients only). That is torch's count of its per-loss backward passes, and the
tutorial's CycleGAN step: the FLOPs of the model's step, the same on every framework. For the transformers:
- attention (a `ScaledDotProductAttention` layer, fused or math): 2 x 2 x B x heads x S x S x d for QK^T and
  the weights times V, in full even when causal, as torch's counter; its backward is twice its forward, as
  torch_flops.py counts every attention kernel's (the model's FLOPs, no recomputation);
- the tied output projection (`Embedding.as_linear`) as a Linear; an embedding lookup costs none, but it is the
  layer that reads the batch, so the first matmul after it keeps its input gradient (torch's autograd's too).

The layers are found by calling the model once with their `__call__` patched to note output shapes: MLX is
lazy, so the shapes are known without computing anything.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from batchmark.workloads.mlx.attention import ScaledDotProductAttention
from batchmark.workloads.mlx.layers import GramMatrix
from batchmark.workloads.mlx.task import losses_of, networks_of, optimizers_of

COUNT_BATCH = 2  # as torch's counter, which needs >1 for BatchNorm in training mode


def conv2d_flops(layer: nn.Conv2d, output: mx.array) -> float:
    out_channels, kernel_h, kernel_w, in_per_group = layer.weight.shape  # MLX's weight layout
    return 2.0 * output.size * in_per_group * kernel_h * kernel_w


def linear_flops(layer: nn.Linear, output: mx.array) -> float:
    return 2.0 * output.size * layer.weight.shape[1]


def attention_flops(layer: ScaledDotProductAttention, output: mx.array) -> float:
    keys = output.shape[-2]  # self-attention: (B, heads, S, d) out, as many keys as queries
    return 2 * 2.0 * output.size * keys


def lookup_flops(layer: nn.Embedding, output: mx.array) -> float:
    return 0.0


def conv_transpose2d_flops(layer: nn.ConvTranspose2d, output: mx.array) -> float:
    out_channels, kernel_h, kernel_w, in_channels = layer.weight.shape
    (pad_h, pad_w), (stride_h, stride_w), (extra_h, extra_w) = layer.padding, layer.stride, layer.output_padding
    batch, height, width, _ = output.shape
    input_height = (height + 2 * pad_h - layer.dilation * (kernel_h - 1) - 1 - extra_h) // stride_h + 1
    input_width = (width + 2 * pad_w - layer.dilation * (kernel_w - 1) - 1 - extra_w) // stride_w + 1
    return 2.0 * batch * input_height * input_width * in_channels * out_channels * kernel_h * kernel_w


def gram_flops(layer: GramMatrix, features: mx.array) -> float:
    batch, height, width, channels = features.shape  # its output (B, C, C) does not say H x W
    return 2.0 * batch * channels * channels * height * width


FORMULAS = {nn.Conv2d: conv2d_flops, nn.Linear: linear_flops, nn.Embedding: lookup_flops,
            ScaledDotProductAttention: attention_flops, nn.ConvTranspose2d: conv_transpose2d_flops}
# Layer methods other than __call__ that run a matmul: GPT-2's tied output projection, as MLX ties one.
METHOD_FORMULAS = {(nn.Embedding, "as_linear"): linear_flops}
# Layers counted from their input rather than their output.
INPUT_FORMULAS = {GramMatrix: gram_flops}
# Layers that multiply two activations: each needs a gradient, each costs the forward.
INPUT_GRADIENT_MULTIPLES = {ScaledDotProductAttention: 2, GramMatrix: 2}


@dataclass
class LayerCall:
    forward: float
    input_gradient: float  # FLOPs of its gradient with respect to its input, where one is needed
    weight_gradient: float  # FLOPs of its gradient with respect to its weights: 0 when they do not train


@dataclass
class NetworkCall:
    """One of the task's networks applied to one input (or, `network` None, a layer called outside them, as
    a loss's Gram matrix): its layers in call order, and the trained networks its input was computed by."""

    network: str | None
    depends_on: frozenset[str]
    layers: list[LayerCall] = field(default_factory=list)

    def backward(self, trained: str) -> float:
        """FLOPs of this call's part in the backward pass of `trained`'s loss (none if the loss's gradient
        with respect to that network's weights does not pass through here)."""
        own, downstream = self.network == trained, trained in self.depends_on
        if not (own or downstream):
            return 0.0
        return sum((layer.weight_gradient if own else 0.0) + (layer.input_gradient if downstream or index else 0.0)
                   for index, layer in enumerate(self.layers))


@contextlib.contextmanager
def recording_layers(calls: list[NetworkCall], networks: dict[str, nn.Module], trained: set[str]):
    """Every call of a network in `networks` appends a NetworkCall to `calls`, and every layer in FORMULAS
    (INPUT_FORMULAS, METHOD_FORMULAS) called inside appends its FLOPs to that network call's, in call order.
    Which trained networks an array came from is known by its identity, for the arrays networks return."""
    formulas = {**{(kind, "__call__"): formula for kind, formula in {**FORMULAS, **INPUT_FORMULAS}.items()},
                **METHOD_FORMULAS}
    names = {id(network): name for name, network in networks.items()}
    network_kinds = {(type(network), "__call__") for network in networks.values()} - formulas.keys()
    originals = {(kind, method): getattr(kind, method) for kind, method in [*formulas, *network_kinds]}
    open_calls: list[NetworkCall] = []
    # id -> (the array, held so that its id is not reused, the trained networks it was computed by)
    computed_by: dict[int, tuple[mx.array, frozenset[str]]] = {}

    def sources(x) -> frozenset[str]:
        return computed_by[id(x)][1] if id(x) in computed_by else frozenset()

    def layer_recorder(key):
        kind, _ = key

        def call(layer, x, *args, **kwargs):
            output = originals[key](layer, x, *args, **kwargs)
            forward = formulas[key](layer, x if kind in INPUT_FORMULAS else output)
            trains = isinstance(layer.trainable_parameters().get("weight"), mx.array)
            entry = LayerCall(forward, forward * INPUT_GRADIENT_MULTIPLES.get(kind, 1), forward if trains else 0.0)
            if open_calls:
                open_calls[-1].layers.append(entry)
            else:
                calls.append(NetworkCall(None, sources(x), [entry]))
            return output
        return call

    def network_recorder(key):
        def call(network, x, *args, **kwargs):
            name = names.get(id(network))
            if name is None or open_calls:  # not one of the task's, or inside one: its layers count there
                return originals[key](network, x, *args, **kwargs)
            record = NetworkCall(name, sources(x))
            open_calls.append(record)
            try:
                output = originals[key](network, x, *args, **kwargs)
            finally:
                open_calls.pop()
            calls.append(record)
            came_from = record.depends_on | ({name} if name in trained else frozenset())
            for _, array in tree_flatten(output):  # one array, or a list (VGG16's feature maps)
                computed_by[id(array)] = (array, came_from)
            return output
        return call

    try:
        for key in formulas:
            setattr(*key, layer_recorder(key))
        for key in network_kinds:
            setattr(*key, network_recorder(key))
        yield calls
    finally:
        for (kind, method), original in originals.items():
            setattr(kind, method, original)


def count_flops(factory, image_size: int) -> tuple[float, float]:
    """(forward, training step) FLOPs per sample of the workload's task, on a fresh task and a small batch."""
    task = factory()
    task.set_modes()
    batch = task.make_batch(COUNT_BATCH, image_size, 0)
    trained = set(optimizers_of(task))
    calls: list[NetworkCall] = []
    with recording_layers(calls, networks_of(task), trained):
        losses_of(task, batch)  # builds the graph only; nothing is evaluated
    forward = sum(layer.forward for call in calls for layer in call.layers)
    backward = sum(call.backward(network) for network in trained for call in calls)
    return forward / COUNT_BATCH, (forward + backward) / COUNT_BATCH
