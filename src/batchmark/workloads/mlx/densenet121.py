"""DenseNet121 in MLX, trained from scratch as a 1000-class classifier: the twin of
``batchmark.workloads.torch.densenet121`` (Huang et al. 2017, https://arxiv.org/abs/1608.06993; the layout of
``keras.applications.DenseNet121``): a 7x7 stem, four dense blocks of BN-ReLU-1x1-BN-ReLU-3x3 layers that each
append GROWTH_RATE channels, transitions that halve channels and resolution, then BN + ReLU + pool + Linear.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.densenet121 import BN_EPS, DENSENET121_BLOCKS, GROWTH_RATE, REDUCTION, STEM_CHANNELS
from batchmark.workloads.mlx.layers import global_average, pad_spatial
from batchmark.workloads.mlx.task import ClassifierTask
from batchmark.workloads.registry import implements


def batch_norm(channels: int) -> nn.BatchNorm:
    return nn.BatchNorm(channels, eps=BN_EPS)


class DenseLayer(nn.Module):
    """Keras's ``conv_block``: BN, ReLU, 1x1 conv, BN, ReLU, 3x3 conv, concatenated onto the input."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.bn0 = batch_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, 4 * GROWTH_RATE, 1, bias=False)
        self.bn1 = batch_norm(4 * GROWTH_RATE)
        self.conv2 = nn.Conv2d(4 * GROWTH_RATE, GROWTH_RATE, 3, padding=1, bias=False)

    def __call__(self, x: mx.array) -> mx.array:  # (B, H, W, C)
        y = self.conv1(nn.relu(self.bn0(x)))  # (B, H, W, 128)
        y = self.conv2(nn.relu(self.bn1(y)))  # (B, H, W, 32)
        return mx.concatenate([x, y], axis=-1)  # (B, H, W, C + 32)


class Transition(nn.Module):
    """Keras's ``transition_block``: BN, ReLU, 1x1 conv to fewer channels, 2x2 average pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.bn = batch_norm(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return nn.AvgPool2d(2, stride=2)(self.conv(nn.relu(self.bn(x))))


class DenseNet121(nn.Module):
    def __init__(self, num_classes: int = 1000, blocks=DENSENET121_BLOCKS):
        super().__init__()
        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, 7, stride=2, padding=3, bias=False)
        self.conv1_bn = batch_norm(STEM_CHANNELS)
        layers, channels = [], STEM_CHANNELS
        for stage, count in enumerate(blocks, start=2):
            layers += [DenseLayer(channels + i * GROWTH_RATE) for i in range(count)]
            channels += count * GROWTH_RATE
            if stage < len(blocks) + 1:  # a transition between blocks, none after the last
                layers.append(Transition(channels, int(channels * REDUCTION)))
                channels = int(channels * REDUCTION)
        self.layers = layers
        self.bn = batch_norm(channels)
        self.head = nn.Linear(channels, num_classes)

    def __call__(self, images: mx.array) -> mx.array:  # (B, S, S, 3)
        x = nn.relu(self.conv1_bn(self.conv1(images)))  # (B, S/2, S/2, 64)
        x = nn.MaxPool2d(3, stride=2)(pad_spatial(x, 1, 1, 1, 1))  # zeros, as Keras pads: (B, S/4, S/4, 64)
        for layer in self.layers:
            x = layer(x)
        x = nn.relu(self.bn(x))  # (B, S/32, S/32, 1024)
        return self.head(global_average(x))  # (B, num_classes)


@implements("mlx", "densenet121")
def build() -> ClassifierTask:
    return ClassifierTask(DenseNet121(num_classes=1000), num_classes=1000, learning_rate=1e-3)
