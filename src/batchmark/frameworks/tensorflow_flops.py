"""FLOPs of one training step, read off TensorFlow's traced graph in torch.utils.flop_counter's convention.

2 FLOPs per multiply-accumulate of the convolution, matmul and einsum ops the step runs, forward and backward
(attention's QK^T and PV in full, S x S, even when causal: torch's counter does the same);
elementwise ops, normalisation and the optimizer are not counted. Only ops the step's outputs and state
updates depend on are counted: a conv's gradient function also builds the filter gradient of a frozen
network (VGG16 in style transfer), which TensorFlow prunes before running and so must we. Gradient ops are
the ones GradientTape names ``gradient_tape/...``.
"""

from __future__ import annotations

import math

BACKWARD_PREFIX = "gradient_tape/"


def _dims(tensor) -> list[int]:
    dims = tensor.shape.as_list()
    if any(dim is None for dim in dims):
        raise ValueError(f"cannot count FLOPs of {tensor.name}: its shape {dims} is not static")
    return dims


def _conv(op, window_from, per_output_from) -> int:
    """MACs = elements of the tensor the window slides over the output side of x the window's size."""
    kh, kw, inner = window_from(op)
    return math.prod(_dims(per_output_from(op))) * kh * kw * inner


def _filter(op):  # Conv2D / backprop input: filter is an input (kh, kw, in/groups, out)
    kh, kw, cin, _ = _dims(op.inputs[1])
    return kh, kw, cin


def _filter_gradient(op):  # backprop filter: the filter's shape is the output's
    kh, kw, cin, _ = _dims(op.outputs[0])
    return kh, kw, cin


def _depthwise_filter(op):  # each output channel sees one input channel
    kh, kw, _, _ = _dims(op.inputs[1])
    return kh, kw, 1


def _depthwise_filter_gradient(op):
    kh, kw, _, _ = _dims(op.outputs[0])
    return kh, kw, 1


def _output(op):
    return op.outputs[0]


def _out_backprop(op):  # the gradient flowing into a conv's output: what a backprop op slides over
    return op.inputs[2]


def _matmul(op) -> int:
    m, n = _dims(op.outputs[0])
    a = _dims(op.inputs[0])
    return m * n * (a[0] if op.get_attr("transpose_a") else a[1])


def _batch_matmul(op) -> int:
    a = _dims(op.inputs[0])
    return math.prod(_dims(op.outputs[0])) * (a[-2] if op.get_attr("adj_x") else a[-1])


def _einsum(op) -> int:
    """A contraction's MACs: one per output element per combination of the labels it sums over. Keras's
    ``ops.dot_product_attention`` on TensorFlow is two Einsums, and their gradients are Einsums too."""
    equation = op.get_attr("equation").decode()
    inputs, output = equation.replace(" ", "").split("->")
    operands = inputs.split(",")
    if len(operands) == 1:
        return 0  # a transpose or a reduction: no multiplication
    if len(operands) != 2:
        raise ValueError(f"cannot count FLOPs of the {len(operands)}-operand einsum '{equation}' ({op.name})")
    sizes = {}
    for labels, tensor in zip(operands, op.inputs):
        dims = _dims(tensor)
        if "..." in labels:  # broadcast dimensions: output dimensions too, so already in its size
            if "..." not in output:
                raise ValueError(f"cannot count FLOPs of '{equation}' ({op.name}): it sums over its ellipsis")
            before, after = labels.split("...")
            labels, dims = before + after, dims[:len(before)] + dims[len(dims) - len(after):]
        sizes.update(zip(labels, dims))
    summed = [label for label in sizes if label not in output]
    return math.prod(_dims(op.outputs[0])) * math.prod(sizes[label] for label in summed)


MACS = {
    "Conv2D": lambda op: _conv(op, _filter, _output),
    "Conv2DBackpropInput": lambda op: _conv(op, _filter, _out_backprop),
    "Conv2DBackpropFilter": lambda op: _conv(op, _filter_gradient, _out_backprop),
    "DepthwiseConv2dNative": lambda op: _conv(op, _depthwise_filter, _output),
    "DepthwiseConv2dNativeBackpropInput": lambda op: _conv(op, _depthwise_filter, _out_backprop),
    "DepthwiseConv2dNativeBackpropFilter": lambda op: _conv(op, _depthwise_filter_gradient, _out_backprop),
    "MatMul": _matmul,
    "BatchMatMulV2": _batch_matmul,
    "BatchMatMulV3": _batch_matmul,
    "Einsum": _einsum,
}
# Ops whose FLOPs we cannot count: meeting one means the count would silently be low.
UNCOUNTED = {"Conv3D", "Conv2DBackpropInputV2", "PartitionedCall", "StatefulPartitionedCall"}


def live_ops(graph) -> list:
    """Ops that the graph's outputs or its stateful control outputs (variable updates) depend on."""
    stack = [tensor.op for tensor in graph.outputs] + list(graph.control_outputs)
    seen = {op.name: op for op in stack}
    while stack:
        op = stack.pop()
        for parent in [tensor.op for tensor in op.inputs] + list(op.control_inputs):
            if parent.name not in seen:
                seen[parent.name] = parent
                stack.append(parent)
    return list(seen.values())


def step_flops(graph) -> tuple[int, int]:
    """(forward, forward + backward) FLOPs of a traced training step's FuncGraph."""
    forward = backward = 0
    for op in live_ops(graph):
        if op.type in UNCOUNTED:
            raise ValueError(f"cannot count FLOPs through {op.type} op {op.name}")
        if op.type not in MACS:
            continue
        flops = 2 * MACS[op.type](op)
        if BACKWARD_PREFIX in op.name:
            backward += flops
        else:
            forward += flops
    return forward, forward + backward
