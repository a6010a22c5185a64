"""Fast neural style transfer: a feed-forward transform net trained through a frozen VGG16 perceptual loss.

Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
https://arxiv.org/abs/1603.08155 (transform net in its supplementary material). Like the common PyTorch port
(https://github.com/pytorch/examples/tree/main/fast_neural_style) the transform net uses instance norm
(https://arxiv.org/abs/1607.08022) and nearest upsampling + convolution instead of batch norm and fractionally
strided convolutions, and the content and style weights are that port's. Padding is plain zero padding so that a
Keras twin has the same parameters and FLOPs. VGG16 (https://arxiv.org/abs/1409.1556) is built here with random
weights: the benchmark measures speed, not style, and must not download anything.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from batchmark.workloads.architectures.style_transfer import (
    CONTENT_STAGE, CONTENT_WEIGHT, DOWN_CONVS, IMAGENET_MEAN, IMAGENET_STD, LEARNING_RATE, RESIDUAL_BLOCKS, STYLE_WEIGHT,
    TV_WEIGHT, UP_FILTERS, VGG16_STAGES)
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.layers import InstanceNorm
from batchmark.workloads.torch.task import Objective, TorchTask, adam, random_images


def conv_block(in_channels: int, filters: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    """Conv (zero padding k//2, with bias) => InstanceNorm => ReLU?"""
    layers = OrderedDict(
        conv=nn.Conv2d(in_channels, filters, kernel, stride=stride, padding=kernel // 2),
        norm=InstanceNorm(filters),
    )
    if relu:
        layers["act"] = nn.ReLU()
    return nn.Sequential(layers)


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(conv_block(channels, channels, 3), conv_block(channels, channels, 3, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)  # no ReLU after the sum, as in Johnson's supplementary material


class TransformNet(nn.Module):
    """Image in [0, 1] -> stylised image in [0, 1], same size (S must be a multiple of 4)."""

    def __init__(self):
        super().__init__()
        channels, down = 3, OrderedDict()
        for index, (filters, kernel, stride) in enumerate(DOWN_CONVS, start=1):
            down[f"conv{index}"] = conv_block(channels, filters, kernel, stride)
            channels = filters
        self.down = nn.Sequential(down)
        self.residual = nn.Sequential(*(ResidualBlock(channels) for _ in range(RESIDUAL_BLOCKS)))
        up = OrderedDict()
        for index, filters in enumerate(UP_FILTERS, start=1):
            up[f"upsample{index}"] = nn.Upsample(scale_factor=2, mode="nearest")
            up[f"conv{index}"] = conv_block(channels, filters, 3)
            channels = filters
        self.up = nn.Sequential(up)
        self.last = nn.Conv2d(channels, 3, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S)
        x = self.down(x)  # (B, 128, S/4, S/4)
        x = self.residual(x)  # (B, 128, S/4, S/4)
        x = self.up(x)  # (B, 32, S, S)
        return (torch.tanh(self.last(x)) + 1) / 2  # (B, 3, S, S) in [0, 1]


class VGG16Features(nn.Module):
    """VGG16's convolutional stages up to relu4_3; returns every stage's output (the loss's feature maps)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        channels, self.stages = 3, nn.ModuleList()
        for stage, (filters, convolutions) in enumerate(VGG16_STAGES, start=1):
            layers = OrderedDict()
            if stage > 1:
                layers[f"pool{stage - 1}"] = nn.MaxPool2d(2)
            for index in range(1, convolutions + 1):
                conv = nn.Conv2d(channels, filters, 3, padding=1)
                nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")  # torchvision's init
                nn.init.zeros_(conv.bias)
                layers[f"conv{stage}_{index}"] = conv
                layers[f"relu{stage}_{index}"] = nn.ReLU()
                channels = filters
            self.stages.append(nn.Sequential(layers))

    def forward(self, images: torch.Tensor, stages: int = len(VGG16_STAGES)) -> list[torch.Tensor]:
        """Images (B, 3, S, S) in [0, 1] -> the outputs of the first `stages` stages."""
        x = (images - self.mean) / self.std
        features = []
        for stage in self.stages[:stages]:
            x = stage(x)  # (B, 64, S, S), (B, 128, S/2, S/2), (B, 256, S/4, S/4), (B, 512, S/8, S/8)
            features.append(x)
        return features


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C, C) channel correlations / (C*H*W), in float32 even under autocast."""
    batch, channels, height, width = features.shape
    # Autocast would run the matmul in bf16/fp16: sums over H*W products lose precision or overflow there.
    with torch.autocast(features.device.type, enabled=False):
        flat = features.float().reshape(batch, channels, height * width)  # reshape: a channels_last map copies
        return flat @ flat.transpose(1, 2) / (channels * height * width)


def total_variation(images: torch.Tensor) -> torch.Tensor:
    """Summed squared differences between neighbouring pixels, averaged over the batch (Johnson's regulariser)."""
    x = images.float()
    vertical = (x[:, :, 1:, :] - x[:, :, :-1, :]).square().sum()
    horizontal = (x[:, :, :, 1:] - x[:, :, :, :-1]).square().sum()
    return (vertical + horizontal) / x.shape[0]


class StyleTransferTask(TorchTask):
    """One training step: stylise a batch, compare it through VGG16 with its content and one fixed style."""

    def __init__(self):
        self.transform = TransformNet()
        self.vgg16 = VGG16Features().requires_grad_(False)
        self.networks = {"transform": self.transform, "vgg16": self.vgg16}
        self.optimizer = adam(self.transform.parameters(), lr=LEARNING_RATE)
        self.style_grams: list[torch.Tensor] = []  # (1, C, C) per VGG stage; set by make_batch

    def set_modes(self):
        self.transform.train()
        self.vgg16.eval()

    def make_batch(self, batch_size, image_size, generator):
        content = random_images(batch_size, image_size, generator)  # (B, 3, S, S) in [0, 1]
        # The style targets are fixed for a whole training run, so they are computed once, not every step; here
        # rather than at build, because only now are the networks on their device, in their layout.
        style = random_images(1, image_size, generator)  # (1, 3, S, S)
        with torch.no_grad():
            self.style_grams = [gram_matrix(features) for features in self.vgg16(style)]
        return (content,)

    def objectives(self, batch):
        (content,) = batch
        stylized = self.transform(content)  # (B, 3, S, S) in [0, 1]
        with torch.no_grad():  # the content target needs only relu2_2, so only the first two stages run
            content_target = self.vgg16(content, stages=CONTENT_STAGE)[-1]  # (B, 128, S/2, S/2)
        features = self.vgg16(stylized)

        content_loss = F.mse_loss(features[CONTENT_STAGE - 1].float(), content_target.float())
        style_loss = sum(
            F.mse_loss(gram_matrix(f), target.expand(f.shape[0], -1, -1))
            for f, target in zip(features, self.style_grams)
        )
        loss = CONTENT_WEIGHT * content_loss + STYLE_WEIGHT * style_loss + TV_WEIGHT * total_variation(stylized)
        return [Objective(loss, self.optimizer)]


@implements("torch", "style_transfer")
def build() -> StyleTransferTask:
    return StyleTransferTask()
