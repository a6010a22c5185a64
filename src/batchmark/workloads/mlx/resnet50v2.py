"""ResNet50V2 in MLX, and the workload that fine-tunes it on a 10-class head: the twin of
``batchmark.workloads.torch.resnet50v2``, layer for layer (He et al. 2016, https://arxiv.org/abs/1603.05027;
the layout of ``keras.applications.ResNet50V2``).

The fine-tune is the Keras transfer-learning guide's: every parameter trains, BatchNorm's scale and offset
included, while the base runs in inference mode (``base_model(x, training=False)``): each BatchNorm normalizes
with its running statistics and never updates them. MLX's BatchNorm keeps those statistics frozen (not
trainable), and `set_modes` puts the base in eval mode.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.resnet50v2 import BN_EPS, RESNET50V2_STACKS, STEM_CHANNELS
from batchmark.workloads.mlx.layers import global_average, pad_spatial
from batchmark.workloads.mlx.task import ClassifierTask
from batchmark.workloads.registry import implements


def batch_norm(channels: int) -> nn.BatchNorm:
    return nn.BatchNorm(channels, eps=BN_EPS)


class PreActBottleneck(nn.Module):
    """Keras's ``block2``: BN + ReLU first, then 1x1 -> 3x3 (strided) -> 1x1, plus the shortcut."""

    def __init__(self, in_channels: int, filters: int, stride: int = 1, conv_shortcut: bool = False):
        super().__init__()
        out_channels = 4 * filters
        self.preact_bn = batch_norm(in_channels)
        self.projects, self.stride = conv_shortcut, stride
        if conv_shortcut:  # projects the pre-activated input, with a bias, as Keras's `_0_conv`
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        self.conv1 = nn.Conv2d(in_channels, filters, 1, bias=False)
        self.bn1 = batch_norm(filters)
        self.conv2 = nn.Conv2d(filters, filters, 3, stride=stride, padding=1, bias=False)
        self.bn2 = batch_norm(filters)
        self.conv3 = nn.Conv2d(filters, out_channels, 1)

    def __call__(self, x: mx.array) -> mx.array:  # (B, H, W, C_in)
        preact = nn.relu(self.preact_bn(x))
        if self.projects:
            shortcut = self.shortcut(preact)  # (B, H/s, W/s, 4f)
        else:  # a 1x1 max pool with a stride is plain subsampling
            shortcut = x[:, ::self.stride, ::self.stride, :] if self.stride > 1 else x
        y = nn.relu(self.bn1(self.conv1(preact)))  # (B, H, W, f)
        y = nn.relu(self.bn2(self.conv2(y)))  # (B, H/s, W/s, f)
        return self.conv3(y) + shortcut  # (B, H/s, W/s, 4f)


def stack(in_channels: int, filters: int, blocks: int, last_stride: int) -> list[PreActBottleneck]:
    """Keras's ``stack2``: a projecting first block, identity blocks, and the stride on the last block."""
    layers = [PreActBottleneck(in_channels, filters, conv_shortcut=True)]
    layers += [PreActBottleneck(4 * filters, filters) for _ in range(2, blocks)]
    layers.append(PreActBottleneck(4 * filters, filters, stride=last_stride))
    return layers


class Features(nn.Module):
    """ResNet50V2 without top: (B, S, S, 3) -> (B, S/32, S/32, 2048)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, STEM_CHANNELS, 7, stride=2, padding=3)  # bias, no BatchNorm (V2 stem)
        blocks, channels = [], STEM_CHANNELS
        for _name, filters, count, last_stride in RESNET50V2_STACKS:
            blocks += stack(channels, filters, count, last_stride)
            channels = 4 * filters
        self.blocks = blocks
        self.post_bn = batch_norm(channels)
        self.out_channels = channels

    def __call__(self, images: mx.array) -> mx.array:
        x = self.conv1(images)  # (B, S/2, S/2, 64)
        # Keras pads with zeros before the pool; MLX's pool would pad with -inf.
        x = nn.MaxPool2d(3, stride=2)(pad_spatial(x, 1, 1, 1, 1))  # (B, S/4, S/4, 64)
        for block in self.blocks:
            x = block(x)
        return nn.relu(self.post_bn(x))


class ResNet50V2(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.features = Features()
        self.head = nn.Linear(self.features.out_channels, num_classes)

    def __call__(self, images: mx.array) -> mx.array:  # (B, S, S, 3)
        return self.head(global_average(self.features(images)))  # (B, num_classes)


class FrozenBatchNormFineTune(ClassifierTask):
    """Trains every parameter with the base in inference mode (its BatchNorm statistics fixed)."""

    def set_modes(self) -> None:
        self.model.train()
        self.model.features.eval()


@implements("mlx", "resnet50v2_finetune")
def build() -> FrozenBatchNormFineTune:
    return FrozenBatchNormFineTune(ResNet50V2(num_classes=10), num_classes=10, learning_rate=1e-5)
