"""ResNet50V2, the pre-activation ResNet, and the workload that fine-tunes it on a 10-class head.

Paper: He et al. 2016, "Identity Mappings in Deep Residual Networks", https://arxiv.org/abs/1603.05027.
The layout follows ``keras.applications.ResNet50V2`` (its ``stack2`` / ``block2``), so that the PyTorch and
Keras runs of this workload train the same network: a 7x7 stem convolution with bias and no normalization,
bottleneck blocks whose BatchNorm + ReLU come before the convolutions, the stride on the *last* block of
each stack, and one BatchNorm + ReLU after the last stack. Layer names mirror Keras's
(``conv3.block2.conv1`` is Keras's ``conv3_block2_1_conv``). Weights are PyTorch's default random init.

The workload is the fine-tuning phase of the Keras transfer-learning guide: the whole network trains
(``base_model.trainable = True``) while the base runs in inference mode (``base_model(x, training=False)``),
so every BatchNorm normalizes with its running statistics and never updates them.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import Tensor, nn

from batchmark.workloads.architectures.resnet50v2 import BN_EPS, RESNET50V2_STACKS, STEM_CHANNELS
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.task import ClassifierTask


def batch_norm(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS)


class PreActBottleneck(nn.Module):
    """Keras's ``block2``: BN + ReLU first, then 1x1 -> 3x3 (strided) -> 1x1, plus the shortcut."""

    def __init__(self, in_channels: int, filters: int, stride: int = 1, conv_shortcut: bool = False):
        super().__init__()
        out_channels = 4 * filters
        self.preact_bn = batch_norm(in_channels)
        if conv_shortcut:
            # Projects the pre-activated input, as Keras does (`_0_conv`, with bias).
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride)
        else:
            assert in_channels == out_channels, "an identity shortcut needs matching channels"
            # A 1x1 max pool with a stride is plain subsampling; it matches the 3x3 conv's output size.
            self.shortcut = nn.MaxPool2d(1, stride=stride) if stride > 1 else nn.Identity()
        self.projects = conv_shortcut
        self.conv1 = nn.Conv2d(in_channels, filters, 1, bias=False)
        self.bn1 = batch_norm(filters)
        # padding=1 on the conv is Keras's ZeroPadding2D(1) + a 'valid' conv.
        self.conv2 = nn.Conv2d(filters, filters, 3, stride=stride, padding=1, bias=False)
        self.bn2 = batch_norm(filters)
        self.conv3 = nn.Conv2d(filters, out_channels, 1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:  # x: (B, C_in, H, W)
        preact = self.relu(self.preact_bn(x))  # in place on the BN output; x stays intact for the shortcut
        shortcut = self.shortcut(preact if self.projects else x)  # (B, 4f, H/s, W/s)
        y = self.relu(self.bn1(self.conv1(preact)))  # (B, f, H, W)
        y = self.relu(self.bn2(self.conv2(y)))  # (B, f, H/s, W/s)
        return self.conv3(y) + shortcut  # (B, 4f, H/s, W/s)


def stack(in_channels: int, filters: int, blocks: int, last_stride: int) -> nn.Sequential:
    """Keras's ``stack2``: a projecting first block, identity blocks, and the stride on the last block."""
    layers = OrderedDict(block1=PreActBottleneck(in_channels, filters, conv_shortcut=True))
    for i in range(2, blocks):
        layers[f"block{i}"] = PreActBottleneck(4 * filters, filters)
    layers[f"block{blocks}"] = PreActBottleneck(4 * filters, filters, stride=last_stride)
    return nn.Sequential(layers)


class ResNet50V2(nn.Module):
    """ResNet50V2; without a head (``num_classes=None``) it returns the (B, 2048, H/32, W/32) feature map.

    With ``num_classes``, a global average pool and a new Linear head return (B, num_classes) logits, as
    Keras's ``include_top=True`` does (minus its softmax, which the loss applies).
    """

    def __init__(self, num_classes: int | None = None, stacks=RESNET50V2_STACKS):
        super().__init__()
        layers = OrderedDict(
            # padding=3 is Keras's ZeroPadding2D(3); the V2 stem has a bias and no BatchNorm.
            conv1=nn.Conv2d(3, STEM_CHANNELS, 7, stride=2, padding=3),
            # Explicit zero padding, not MaxPool2d(padding=1): that pads with -inf, and the
            # un-activated stem output can be negative.
            pool1_pad=nn.ZeroPad2d(1),
            pool1=nn.MaxPool2d(3, stride=2),
        )
        channels = STEM_CHANNELS
        for name, filters, blocks, last_stride in stacks:
            layers[name] = stack(channels, filters, blocks, last_stride)
            channels = 4 * filters
        layers["post_bn"] = batch_norm(channels)
        layers["post_relu"] = nn.ReLU(inplace=True)
        self.features = nn.Sequential(layers)
        self.out_channels = channels
        self.head = nn.Linear(channels, num_classes) if num_classes is not None else None

    def forward(self, images: Tensor) -> Tensor:  # images: (B, 3, H, W)
        x = self.features(images)  # (B, 2048, H/32, W/32)
        if self.head is None:
            return x
        return self.head(x.mean(dim=(2, 3)))  # (B, num_classes)


class FrozenBatchNormFineTune(ClassifierTask):
    """Trains every parameter (BatchNorm gamma and beta included) with the base in inference mode."""

    def set_modes(self) -> None:
        self.model.train()
        # Keras's `base_model(x, training=False)`: BatchNorm uses, and never updates, its running stats.
        self.model.features.eval()


@implements("torch", "resnet50v2_finetune")
def build() -> FrozenBatchNormFineTune:
    model = ResNet50V2(num_classes=10)
    return FrozenBatchNormFineTune(model, num_classes=10, learning_rate=1e-5)
