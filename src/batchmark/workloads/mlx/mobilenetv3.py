"""MobileNetV3-Large (alpha 1.0, 1000 classes, with top) in MLX, trained from scratch: the twin of
``batchmark.workloads.torch.mobilenetv3`` (Howard et al. 2019, https://arxiv.org/abs/1905.02244; the layout of
``keras.applications.MobileNetV3Large``): the same channel rounding, TensorFlow's asymmetric "same" padding
before strided convolutions, BatchNorm with epsilon 1e-3, squeeze-and-excite, the 1x1-conv classifier head.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.mobilenetv3 import (
    BN_EPS, BN_MOMENTUM, DROPOUT, LARGE_BLOCKS, LAST_POINT_CHANNELS, SE_RATIO, STEM_CHANNELS, Block, depth)
from batchmark.workloads.mlx.layers import global_average, pad_spatial
from batchmark.workloads.mlx.task import ClassifierTask
from batchmark.workloads.registry import implements


def hard_sigmoid(x: mx.array) -> mx.array:
    return nn.relu6(x + 3.0) / 6.0  # Keras's and PyTorch's hard sigmoid


ACTIVATIONS = {"relu": nn.relu, "hardswish": nn.hardswish}  # the table's names


def _pad_same(x: mx.array, kernel: int, stride: int) -> mx.array:
    """TensorFlow's "same" padding of (B, H, W, C) before a strided conv: any odd pixel goes after."""
    pads = []
    for size in x.shape[1:3]:
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return pad_spatial(x, *pads)


class ConvBN(nn.Module):
    """Bias-free conv + BatchNorm; the caller applies the activation."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 padding: int = 0):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False)
        self.bn = nn.BatchNorm(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM)

    def __call__(self, x: mx.array) -> mx.array:
        return self.bn(self.conv(x))


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        squeezed = depth(channels * SE_RATIO)
        self.conv = nn.Conv2d(channels, squeezed, 1)
        self.conv_1 = nn.Conv2d(squeezed, channels, 1)

    def __call__(self, x: mx.array) -> mx.array:  # (B, H, W, C)
        scale = nn.relu(self.conv(global_average(x, keepdims=True)))  # (B, 1, 1, C/4 rounded)
        return x * hard_sigmoid(self.conv_1(scale))


class InvertedResidual(nn.Module):
    """Keras ``_inverted_res_block``; block 0 has no expand conv, and a residual joins when shapes match."""

    def __init__(self, in_channels: int, block: Block, block_id: int):
        super().__init__()
        expanded = depth(in_channels * block.expansion)
        self.kernel, self.stride = block.kernel, block.stride
        self.activation = ACTIVATIONS[block.activation]
        if block_id > 0:
            self.expand = ConvBN(in_channels, expanded)
        padding = block.kernel // 2 if block.stride == 1 else 0  # stride 2: padded explicitly, as TensorFlow
        self.depthwise = ConvBN(expanded, expanded, block.kernel, block.stride, groups=expanded, padding=padding)
        if block.squeeze_excite:
            self.squeeze_excite = SqueezeExcite(expanded)
        self.project = ConvBN(expanded, block.filters)
        self.residual = block.stride == 1 and in_channels == block.filters

    def __call__(self, x: mx.array) -> mx.array:  # (B, H, W, C_in)
        shortcut = x
        if "expand" in self:
            x = self.activation(self.expand(x))  # (B, H, W, E)
        if self.stride == 2:
            x = _pad_same(x, self.kernel, self.stride)
        x = self.activation(self.depthwise(x))  # (B, H / stride, W / stride, E)
        if "squeeze_excite" in self:
            x = self.squeeze_excite(x)
        x = self.project(x)  # linear bottleneck
        return x + shortcut if self.residual else x


class MobileNetV3Large(nn.Module):
    def __init__(self, num_classes: int = 1000, blocks: tuple[Block, ...] = LARGE_BLOCKS):
        super().__init__()
        self.conv = ConvBN(3, STEM_CHANNELS, 3, stride=2)
        self.blocks, channels = [], STEM_CHANNELS
        for block_id, block in enumerate(blocks):
            self.blocks.append(InvertedResidual(channels, block, block_id))
            channels = block.filters
        last_conv_channels = depth(channels * 6)  # 960 for Large
        self.conv_1 = ConvBN(channels, last_conv_channels)
        self.conv_2 = nn.Conv2d(last_conv_channels, LAST_POINT_CHANNELS, 1)
        self.dropout = nn.Dropout(DROPOUT)
        self.logits = nn.Conv2d(LAST_POINT_CHANNELS, num_classes, 1)

    def __call__(self, images: mx.array) -> mx.array:  # (B, S, S, 3) in [0, 1]
        x = images * 2.0 - 1.0  # Keras's Rescaling to [-1, 1]
        x = nn.hardswish(self.conv(_pad_same(x, 3, 2)))  # (B, S/2, S/2, 16)
        for block in self.blocks:
            x = block(x)  # (B, S/32, S/32, 160) at the end
        x = nn.hardswish(self.conv_1(x))  # (B, S/32, S/32, 960)
        x = nn.hardswish(self.conv_2(global_average(x, keepdims=True)))  # (B, 1, 1, 1280)
        return self.logits(self.dropout(x)).reshape(x.shape[0], -1)  # (B, classes)


@implements("mlx", "mobilenetv3")
def build() -> ClassifierTask:
    return ClassifierTask(MobileNetV3Large(num_classes=1000), num_classes=1000, learning_rate=1e-3)
