"""Small pieces the MLX workloads share: zero padding before a pool or a strided conv (MLX's pools pad with
-inf and its convolutions only symmetrically), a global average pool over (H, W), the pix2pix instance norm
and a Gram matrix layer."""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn


def pad_spatial(x: mx.array, top: int, bottom: int, left: int, right: int) -> mx.array:
    """Zero-pad (B, H, W, C) in H and W."""
    return mx.pad(x, [(0, 0), (top, bottom), (left, right), (0, 0)])


def global_average(x: mx.array, keepdims: bool = False) -> mx.array:
    """(B, H, W, C) -> (B, C), or (B, 1, 1, C) with keepdims."""
    return x.mean(axis=(1, 2), keepdims=keepdims)


class InstanceNorm(nn.Module):
    """tensorflow_examples' pix2pix ``InstanceNormalization`` (Ulyanov et al. 2016,
    https://arxiv.org/abs/1607.08022), as the PyTorch and Keras twins have it: each sample's channel normalised
    over H and W, then a learnable per-channel scale ~ N(1, 0.02) and offset (zeros). MLX's own InstanceNorm
    initialises its scale to ones and keeps the statistics in the input's dtype.

    A 1x1 map (the pix2pix U-Net bottleneck at 256x256) has variance 0: the output is just ``offset``.
    """

    def __init__(self, channels: int, epsilon: float = 1e-5):
        super().__init__()
        self.epsilon = epsilon
        self.scale = 1.0 + 0.02 * mx.random.normal((channels,))
        self.offset = mx.zeros((channels,))

    def __call__(self, x: mx.array) -> mx.array:  # (B, H, W, C)
        # Statistics in float32: a bf16 variance over a 128x128 map loses most of its digits.
        x32 = x.astype(mx.float32)
        mean = x32.mean(axis=(1, 2), keepdims=True)  # (B, 1, 1, C)
        variance = x32.var(axis=(1, 2), keepdims=True)
        normalized = (x32 - mean) * mx.rsqrt(variance + self.epsilon)
        out = normalized * self.scale.astype(mx.float32) + self.offset.astype(mx.float32)
        return out.astype(x.dtype)  # what the next convolution would be fed anyway


class GramMatrix(nn.Module):
    """(B, H, W, C) features -> (B, C, C) channel correlations / (C*H*W), in float32 (sums over H*W products
    lose precision or overflow in bf16/fp16). A layer rather than a function so that the FLOP counter
    (``batchmark.frameworks.mlx_flops``) sees its matmul, as torch's counter sees the twin's."""

    def __call__(self, features: mx.array) -> mx.array:
        batch, height, width, channels = features.shape
        flat = features.astype(mx.float32).reshape(batch, height * width, channels)  # (B, HW, C)
        return flat.swapaxes(1, 2) @ flat / (channels * height * width)  # (B, C, C)
