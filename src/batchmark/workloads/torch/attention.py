"""Scaled dot-product attention two ways, chosen by the plan's `attention` switch when a model is built.

"fused" is ``torch.nn.functional.scaled_dot_product_attention``: what people write today (nanoGPT, timm,
``nn.MultiheadAttention``), which picks a flash or memory-efficient kernel where the device has one and never
materializes the (S, S) score matrix there. "math" is the paper's formula as separate ops, which does. Both
compute the same function; the tuner measures which is faster here.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, implementation: str) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + mask) v over (B, heads, S, d) tensors; returns (B, heads, S, d)."""
    if implementation == "fused":
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (B, heads, S, S)
    if causal:
        length = q.size(-2)
        future = torch.ones(length, length, dtype=torch.bool, device=q.device).triu(1)
        scores = scores.masked_fill(future, float("-inf"))
    # Softmax in fp32 under autocast, as the fused kernels accumulate it.
    weights = torch.softmax(scores.float(), dim=-1).to(v.dtype)
    return weights @ v
