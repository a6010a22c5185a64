"""Small pieces the MLX workloads share: zero padding before a pool or a strided conv (MLX's pools pad with
-inf and its convolutions only symmetrically), and a global average pool over (H, W)."""

from __future__ import annotations

import mlx.core as mx


def pad_spatial(x: mx.array, top: int, bottom: int, left: int, right: int) -> mx.array:
    """Zero-pad (B, H, W, C) in H and W."""
    return mx.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)])


def global_average(x: mx.array, keepdims: bool = False) -> mx.array:
    """(B, H, W, C) -> (B, C), or (B, 1, 1, C) with keepdims."""
    return x.mean(axis=(1, 2), keepdims=keepdims)
