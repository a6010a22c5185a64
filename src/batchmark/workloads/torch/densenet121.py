"""DenseNet121, trained from scratch as a 1000-class image classifier.

Paper: Huang et al. 2017, "Densely Connected Convolutional Networks", https://arxiv.org/abs/1608.06993.
The layout follows ``keras.applications.DenseNet121``, so that the PyTorch and Keras runs of this workload
train the same network: a 7x7 stem, four dense blocks of BN-ReLU-1x1-BN-ReLU-3x3 layers that each append
``GROWTH_RATE`` channels, transitions that halve channels and resolution, and a final BN + ReLU + global
average pool + Linear. Layer names mirror Keras's (``conv3.block2.conv1`` is Keras's ``conv3_block2_1_conv``,
``pool2`` the transition Keras names ``pool2_*``). Weights are PyTorch's default random init.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import Tensor, nn

from batchmark.workloads.architectures.densenet121 import BN_EPS, DENSENET121_BLOCKS, GROWTH_RATE, REDUCTION, STEM_CHANNELS
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.task import ClassifierTask


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class DenseLayer(nn.Module):
    """Keras's ``conv_block``: BN, ReLU, 1x1 conv, BN, ReLU, 3x3 conv, concatenated onto the input."""

    def __init__(self, in_channels: int):
        super().__init__()
        bottleneck = 4 * GROWTH_RATE
        self.bn0 = batch_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, bottleneck, 1, bias=False)
        self.bn1 = batch_norm(bottleneck)
        self.conv2 = nn.Conv2d(bottleneck, GROWTH_RATE, 3, padding=1, bias=False)  # Keras's 'same'
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:  # x: (B, C, H, W)
        y = self.conv1(self.relu(self.bn0(x)))  # (B, 128, H, W)
        y = self.conv2(self.relu(self.bn1(y)))  # (B, 32, H, W)
        return torch.cat([x, y], dim=1)  # (B, C + 32, H, W)


def dense_block(in_channels: int, layers: int) -> nn.Sequential:
    return nn.Sequential(OrderedDict(
        (f"block{i + 1}", DenseLayer(in_channels + i * GROWTH_RATE)) for i in range(layers)
    ))


def transition(in_channels: int, out_channels: int) -> nn.Sequential:
    """Keras's ``transition_block``: BN, ReLU, 1x1 conv to fewer channels, 2x2 average pool."""
    return nn.Sequential(OrderedDict(
        bn=batch_norm(in_channels),
        relu=nn.ReLU(inplace=True),
        conv=nn.Conv2d(in_channels, out_channels, 1, bias=False),
        pool=nn.AvgPool2d(2, stride=2),
    ))


class DenseNet121(nn.Module):
    """Returns (B, num_classes) logits: Keras's ``include_top=True`` minus the softmax the loss applies."""

    def __init__(self, num_classes: int = 1000, blocks=DENSENET121_BLOCKS):
        super().__init__()
        layers = OrderedDict(
            conv1=nn.Conv2d(3, STEM_CHANNELS, 7, stride=2, padding=3, bias=False),  # Keras's ZeroPadding2D(3)
            conv1_bn=batch_norm(STEM_CHANNELS),
            conv1_relu=nn.ReLU(inplace=True),
            # Keras pads with zeros before the pool; MaxPool2d(padding=1) would pad with -inf.
            pool1_pad=nn.ZeroPad2d(1),
            pool1=nn.MaxPool2d(3, stride=2),
        )
        channels = STEM_CHANNELS
        for stage, num_layers in enumerate(blocks, start=2):
            layers[f"conv{stage}"] = dense_block(channels, num_layers)
            channels += num_layers * GROWTH_RATE
            if stage < len(blocks) + 1:  # a transition between blocks, none after the last
                reduced = int(channels * REDUCTION)
                layers[f"pool{stage}"] = transition(channels, reduced)
                channels = reduced
        layers["bn"] = batch_norm(channels)
        layers["relu"] = nn.ReLU(inplace=True)
        self.features = nn.Sequential(layers)
        self.out_channels = channels
        self.head = nn.Linear(channels, num_classes)

    def forward(self, images: Tensor) -> Tensor:  # images: (B, 3, H, W)
        x = self.features(images)  # (B, 1024, H/32, W/32)
        return self.head(x.mean(dim=(2, 3)))  # (B, num_classes)


@implements("torch", "densenet121")
def build() -> ClassifierTask:
    return ClassifierTask(DenseNet121(num_classes=1000), num_classes=1000, learning_rate=1e-3)
