"""Scaled dot-product attention two ways, chosen by the plan's `attention` switch when a model is built: the MLX
twin of ``batchmark.workloads.torch.attention``.

"fused" is ``mx.fast.scaled_dot_product_attention``, what an MLX user calls today (mlx-lm's models do):
a Metal or CUDA kernel where the shapes allow one; on a CPU MLX falls back to composed ops (its own matmuls
and softmax), so there the two differ little. "math" is the paper's formula as separate ops. Both compute the
same function.

Attention is a (parameterless) layer, not a bare function, so that the FLOP counter (frameworks/mlx_flops.py)
sees its two matmuls as it sees every Linear's.
"""

from __future__ import annotations

import math

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.attention import current_attention


def causal_mask(length: int) -> mx.array:
    """(S, S), True where query t may see key s (s <= t)."""
    positions = mx.arange(length)
    return positions[:, None] >= positions[None, :]


def math_attention(q: mx.array, k: mx.array, v: mx.array, causal: bool) -> mx.array:
    """softmax(q k^T / sqrt(d) + mask) v as separate ops, over (B, heads, S, d); returns (B, heads, S, d)."""
    scores = (q @ k.swapaxes(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (B, heads, S, S)
    # Softmax in fp32 whatever the plan's precision, as the fused kernel (and torch's and Keras's math) do; the
    # diagonal is always seen, so no row is all -inf.
    scores = scores.astype(mx.float32)
    if causal:
        scores = mx.where(causal_mask(q.shape[-2]), scores, -math.inf)
    return mx.softmax(scores, axis=-1).astype(v.dtype) @ v


class ScaledDotProductAttention(nn.Module):
    """softmax(q k^T / sqrt(d) + mask) v, the implementation fixed when the layer is built."""

    def __init__(self, causal: bool):
        super().__init__()
        self.causal = causal
        self.implementation = current_attention()  # the plan's switch, as the torch and Keras layers read it

    def __call__(self, q: mx.array, k: mx.array, v: mx.array) -> mx.array:  # (B, heads, S, d) each
        if self.implementation == "math":
            return math_attention(q, k, v, self.causal)
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=1.0 / math.sqrt(q.shape[-1]),
                                                    mask="causal" if self.causal else None)
