"""FLOPs of one training step, read off the step's jaxpr in torch.utils.flop_counter's convention.

2 FLOPs per multiply-accumulate of ``conv_general_dilated``, ``dot_general`` and cuDNN's fused attention,
forward and backward (attention in full, S x S, even when causal: torch's counter does the same);
elementwise ops, normalisation and the optimizer are not counted. Dead code is removed first: the step takes
every loss's gradient through one shared pullback, which also computes gradients nobody uses (a generator's
loss with respect to the discriminator's weights) that XLA then drops, and so must we.

Convolutions are counted as torch counts them, whether they are a layer or one of its gradients. torch
counts a convolution from its output side (output elements x window x input channels per group) and a
transposed one, like a gradient with respect to a convolution's input, from its input side (input elements x
window x output channels per group), so that a gradient costs what its forward costs. In a jaxpr both are
``conv_general_dilated``: an input gradient convolves the output gradient, dilated by the stride and padded
to full width, which makes its output side larger than its input side, while a layer's output side is never
the larger. The smaller of the two sides is therefore torch's figure.
"""

from __future__ import annotations

import math

from jax._src.interpreters import partial_eval as pe  # dce_jaxpr has no public home in jax 0.10
from jax.extend.core import jaxprs_in_params

LOOPS = {"scan", "while"}  # their bodies run a data-dependent number of times: a count would be wrong


def _conv_macs(eqn) -> int:
    lhs_shape, rhs_shape = eqn.invars[0].aval.shape, eqn.invars[1].aval.shape
    out_shape = eqn.outvars[0].aval.shape
    _, rhs_spec, out_spec = eqn.params["dimension_numbers"]
    window = math.prod(rhs_shape[dim] for dim in rhs_spec[2:])
    groups = eqn.params["feature_group_count"] * eqn.params["batch_group_count"]
    # Over an input dilated by a stride (a transposed convolution's weight gradient), only one tap in
    # prod(lhs_dilation) meets a real value.
    output_side = (math.prod(out_shape) * window * rhs_shape[rhs_spec[1]]  # rhs_spec[1]: inputs per group
                   // math.prod(eqn.params["lhs_dilation"]))
    input_side = math.prod(lhs_shape) * window * out_shape[out_spec[1]] // groups
    return min(output_side, input_side)


def _dot_macs(eqn) -> int:
    (lhs_contracting, _), _ = eqn.params["dimension_numbers"]
    lhs_shape = eqn.invars[0].aval.shape
    return math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs_shape[dim] for dim in lhs_contracting)


BNTH = 1  # jax._src.cudnn.fused_attention_stablehlo.AttentionLayout.BNTH.value; BTNH is 0


def _cudnn_attention_macs(eqn) -> int:
    """cuDNN's fused attention, which ``jax.nn.dot_product_attention`` (and so Keras's op, with flash attention
    on an NVIDIA GPU) runs as one primitive: QK^T and PV forward, and their four gradient matmuls backward, as
    torch counts scaled_dot_product_attention and as the XLA path's dot_generals count. In full, even when
    causal, as everywhere in batchmark."""
    query, _, value = (variable.aval.shape for variable in eqn.invars[:3])
    if eqn.params["layout"] == BNTH:
        batch, heads, length, width = query
        source, value_width = value[2], value[3]
    else:  # BTNH
        batch, length, heads, width = query
        source, value_width = value[1], value[3]
    forward = batch * heads * length * source * (width + value_width)
    return forward if "_fwd" in eqn.primitive.name else 2 * forward


MACS = {"conv_general_dilated": _conv_macs, "dot_general": _dot_macs,
        **{f"dot_product_attention_{part}{wrapper}": _cudnn_attention_macs
           for part in ("fwd", "bwd") for wrapper in ("", "_wrapper")}}


def count_flops(jaxpr) -> int:
    """FLOPs of a (closed) jaxpr after dead-code elimination, nested calls included."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    live, _ = pe.dce_jaxpr(jaxpr, [True] * len(jaxpr.outvars))
    return _count(live)


def _count(jaxpr) -> int:
    total = 0
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name in MACS:
            total += 2 * MACS[name](eqn)
        for sub in jaxprs_in_params(eqn.params):
            inner = _count(getattr(sub, "jaxpr", sub))
            if inner and name in LOOPS:
                raise ValueError(f"cannot count FLOPs inside a {name} loop")
            total += inner
    return total
