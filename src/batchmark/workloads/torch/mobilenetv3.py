"""MobileNetV3-Large (alpha 1.0, 1000 classes, with top), trained from scratch.

Paper: Howard et al. 2019, "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244.
The layout follows ``keras.applications.MobileNetV3Large`` (keras/src/applications/mobilenet_v3.py), so that
the PyTorch and Keras workloads train the same network: the same channel rounding, the same asymmetric
("same") padding of strided convolutions, BatchNorm with epsilon 1e-3, the 1x1-conv classifier head. Module
names mirror the Keras layer names (``expanded_conv_3.depthwise``, ``conv_1``, ``logits``); Keras's unnumbered
first block is ``expanded_conv_0`` here.
5,483,032 trainable parameters; Keras's count_params (5,507,432) adds the BatchNorm moving statistics.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from batchmark.workloads.architectures.mobilenetv3 import (
    BN_EPS, BN_MOMENTUM, DROPOUT, LARGE_BLOCKS, LAST_POINT_CHANNELS, SE_RATIO, STEM_CHANNELS, Block, depth)
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.task import ClassifierTask

ACTIVATIONS = {"relu": nn.ReLU, "hardswish": nn.Hardswish}  # the table's names


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(before, after) padding of TensorFlow's "same": any odd pixel goes after (bottom / right)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero-pad (B, C, H, W) as Keras does before a strided conv, so outputs align with Keras's pixel grid.

    Equals Keras's ``correct_pad`` for the depthwise convs and "same" padding for the stem.
    """
    top, bottom = _same_padding(x.shape[-2], kernel, stride)
    left, right = _same_padding(x.shape[-1], kernel, stride)
    return F.pad(x, (left, right, top, bottom))


def _conv_bn(in_channels: int, out_channels: int, kernel: int = 1, stride: int = 1, groups: int = 1,
             padding: int = 0) -> nn.Sequential:
    """Bias-free conv + BatchNorm; the activation is applied by the caller (it varies per block)."""
    return nn.Sequential(OrderedDict(
        conv=nn.Conv2d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=False),
        bn=nn.BatchNorm2d(out_channels, eps=BN_EPS, momentum=BN_MOMENTUM),
    ))


class SqueezeExcite(nn.Module):
    """Keras ``_se_block``: global average pool, 1x1 conv + ReLU, 1x1 conv + hard sigmoid, rescale channels."""

    def __init__(self, channels: int):
        super().__init__()
        squeezed = depth(channels * SE_RATIO)
        self.conv = nn.Conv2d(channels, squeezed, 1)
        self.conv_1 = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        scale = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        scale = F.relu(self.conv(scale))  # (B, C/4 rounded, 1, 1)
        scale = F.hardsigmoid(self.conv_1(scale))  # relu6(x + 3) / 6, as Keras's hard_sigmoid
        return x * scale


class InvertedResidual(nn.Module):
    """Keras ``_inverted_res_block``; block 0 has no expand conv, and a residual joins when shapes match."""

    def __init__(self, in_channels: int, block: Block, block_id: int):
        super().__init__()
        expanded = depth(in_channels * block.expansion)
        self.kernel, self.stride = block.kernel, block.stride
        self.expand = _conv_bn(in_channels, expanded) if block_id > 0 else None
        # Stride 1: symmetric padding is "same" for odd kernels. Stride 2: padded explicitly in forward.
        padding = block.kernel // 2 if block.stride == 1 else 0
        self.depthwise = _conv_bn(expanded, expanded, block.kernel, block.stride, groups=expanded, padding=padding)
        self.squeeze_excite = SqueezeExcite(expanded) if block.squeeze_excite else None
        self.project = _conv_bn(expanded, block.filters)
        self.activation = ACTIVATIONS[block.activation]()
        self.residual = block.stride == 1 and in_channels == block.filters

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C_in, H, W)
        shortcut = x
        if self.expand is not None:
            x = self.activation(self.expand(x))  # (B, E, H, W)
        if self.stride == 2:
            x = _pad_same(x, self.kernel, self.stride)
        x = self.activation(self.depthwise(x))  # (B, E, H / stride, W / stride)
        if self.squeeze_excite is not None:
            x = self.squeeze_excite(x)
        x = self.project(x)  # (B, filters, H / stride, W / stride), no activation (linear bottleneck)
        return x + shortcut if self.residual else x


class MobileNetV3Large(nn.Module):
    def __init__(self, num_classes: int = 1000, blocks: tuple[Block, ...] = LARGE_BLOCKS):
        super().__init__()
        self.conv = _conv_bn(3, STEM_CHANNELS, 3, stride=2)
        stack, channels = OrderedDict(), STEM_CHANNELS
        for block_id, block in enumerate(blocks):
            stack[f"expanded_conv_{block_id}"] = InvertedResidual(channels, block, block_id)
            channels = block.filters
        self.blocks = nn.Sequential(stack)
        last_conv_channels = depth(channels * 6)  # 960 for Large
        self.conv_1 = _conv_bn(channels, last_conv_channels)
        self.conv_2 = nn.Conv2d(last_conv_channels, LAST_POINT_CHANNELS, 1)
        self.dropout = nn.Dropout(DROPOUT)
        self.logits = nn.Conv2d(LAST_POINT_CHANNELS, num_classes, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S) in [0, 1]
        # Keras's Rescaling(1 / 127.5, offset=-1) maps [0, 255] to [-1, 1]; our images are in [0, 1].
        x = images * 2.0 - 1.0
        x = F.hardswish(self.conv(_pad_same(x, 3, 2)))  # (B, 16, S/2, S/2)
        x = self.blocks(x)  # (B, 160, S/32, S/32)
        x = F.hardswish(self.conv_1(x))  # (B, 960, S/32, S/32)
        x = x.mean((2, 3), keepdim=True)  # (B, 960, 1, 1)
        x = F.hardswish(self.conv_2(x))  # (B, 1280, 1, 1)
        x = self.logits(self.dropout(x))  # (B, classes, 1, 1)
        return x.flatten(1)  # logits (B, classes); the loss applies the softmax


@implements("torch", "mobilenetv3")
def build() -> ClassifierTask:
    return ClassifierTask(MobileNetV3Large(num_classes=1000), num_classes=1000, learning_rate=1e-3)
