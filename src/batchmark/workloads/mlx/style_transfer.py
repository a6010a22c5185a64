"""Fast neural style transfer in MLX: a feed-forward transform net trained through a frozen VGG16 perceptual
loss, the twin of ``batchmark.workloads.torch.style_transfer`` (Johnson, Alahi & Fei-Fei 2016,
https://arxiv.org/abs/1603.08155; instance norm and nearest upsampling + convolution as the PyTorch example's
port, https://github.com/pytorch/examples/tree/main/fast_neural_style; zero padding, so that every twin has
the same parameters and FLOPs). VGG16 (https://arxiv.org/abs/1409.1556) has random weights and is frozen: its
input gradient flows back to the transform net, its weights get none.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.style_transfer import (
    CONTENT_STAGE, CONTENT_WEIGHT, DOWN_CONVS, IMAGENET_MEAN, IMAGENET_STD, LEARNING_RATE, RESIDUAL_BLOCKS, STYLE_WEIGHT,
    TV_WEIGHT, UP_FILTERS, VGG16_STAGES)
from batchmark.workloads.mlx.layers import GramMatrix, InstanceNorm
from batchmark.workloads.mlx.task import Networks, adam, random_images
from batchmark.workloads.registry import implements


class ConvBlock(nn.Module):
    """Conv (zero padding k//2, with bias) => InstanceNorm => ReLU?"""

    def __init__(self, in_channels: int, filters: int, kernel: int, stride: int = 1, relu: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, filters, kernel, stride=stride, padding=kernel // 2)
        self.norm = InstanceNorm(filters)
        self.relu = relu

    def __call__(self, x: mx.array) -> mx.array:
        x = self.norm(self.conv(x))
        return nn.relu(x) if self.relu else x


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = [ConvBlock(channels, channels, 3), ConvBlock(channels, channels, 3, relu=False)]

    def __call__(self, x: mx.array) -> mx.array:
        return x + self.body[1](self.body[0](x))  # no ReLU after the sum, as in Johnson's supplementary material


class TransformNet(nn.Module):
    """Image in [0, 1] -> stylised image in [0, 1], same size (S must be a multiple of 4)."""

    def __init__(self):
        super().__init__()
        channels, self.down = 3, []
        for filters, kernel, stride in DOWN_CONVS:
            self.down.append(ConvBlock(channels, filters, kernel, stride))
            channels = filters
        self.residual = [ResidualBlock(channels) for _ in range(RESIDUAL_BLOCKS)]
        self.up = []
        for filters in UP_FILTERS:
            self.up.append(ConvBlock(channels, filters, 3))
            channels = filters
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.last = nn.Conv2d(channels, 3, 9, padding=4)

    def __call__(self, x: mx.array) -> mx.array:  # (B, S, S, 3)
        for block in self.down:
            x = block(x)  # (B, S/4, S/4, 128) at the end
        for block in self.residual:
            x = block(x)
        for block in self.up:
            x = block(self.upsample(x))  # (B, S, S, 32) at the end
        return (mx.tanh(self.last(x)) + 1) / 2  # (B, S, S, 3) in [0, 1]


class VGG16Features(nn.Module):
    """VGG16's convolutional stages up to relu4_3; returns every stage's output (the loss's feature maps)."""

    def __init__(self):
        super().__init__()
        channels, self.stages = 3, []
        for filters, convolutions in VGG16_STAGES:
            stage = []
            for _ in range(convolutions):
                conv = nn.Conv2d(channels, filters, 3, padding=1)
                fan_out = filters * 3 * 3  # torchvision's init: Kaiming normal (fan out, ReLU), zero bias
                conv.weight = mx.random.normal(conv.weight.shape) * (2.0 / fan_out) ** 0.5
                conv.bias = mx.zeros((filters,))
                stage.append(conv)
                channels = filters
            self.stages.append(stage)
        self.pool = nn.MaxPool2d(2)

    def __call__(self, images: mx.array, stages: int = len(VGG16_STAGES)) -> list[mx.array]:
        """Images (B, S, S, 3) in [0, 1] -> the outputs of the first `stages` stages."""
        x = (images - mx.array(IMAGENET_MEAN, dtype=images.dtype)) / mx.array(IMAGENET_STD, dtype=images.dtype)
        features = []
        for index, stage in enumerate(self.stages[:stages]):
            if index > 0:
                x = self.pool(x)
            for conv in stage:
                x = nn.relu(conv(x))
            features.append(x)  # (B, S, S, 64), (B, S/2, S/2, 128), (B, S/4, S/4, 256), (B, S/8, S/8, 512)
        return features


def mean_square(difference: mx.array) -> mx.array:
    return difference.astype(mx.float32).square().mean()


def total_variation(images: mx.array) -> mx.array:
    """Summed squared differences between neighbouring pixels, averaged over the batch (Johnson's regulariser)."""
    x = images.astype(mx.float32)  # (B, S, S, 3)
    vertical = (x[:, 1:, :, :] - x[:, :-1, :, :]).square().sum()
    horizontal = (x[:, :, 1:, :] - x[:, :, :-1, :]).square().sum()
    return (vertical + horizontal) / x.shape[0]


class StyleTransferTask:
    """One training step: stylise a batch, compare it through VGG16 with its content and one fixed style."""

    def __init__(self):
        self.transform = TransformNet()
        self.vgg16 = VGG16Features()
        self.vgg16.freeze()  # the loss network: no weight gradient, no optimizer slot
        self.networks = {"transform": self.transform, "vgg16": self.vgg16}
        self.model = Networks(**self.networks)
        self.optimizers = {"transform": adam(LEARNING_RATE)}
        self.gram = GramMatrix()
        self.style_grams: list[mx.array] = []  # (1, C, C) per VGG stage; set by make_batch

    def set_modes(self) -> None:
        self.transform.train()
        self.vgg16.eval()

    def make_batch(self, batch_size, image_size, seed):
        content_key, style_key = mx.random.split(mx.random.key(seed))
        content = random_images(batch_size, image_size, content_key)  # (B, S, S, 3) in [0, 1]
        # The style targets are fixed for a whole run: computed once here (in the networks' dtype), not every step.
        style = random_images(1, image_size, style_key).astype(self.vgg16.stages[0][0].weight.dtype)
        self.style_grams = [mx.stop_gradient(self.gram(features)) for features in self.vgg16(style)]
        mx.eval(self.style_grams)
        return (content,)

    def losses(self, content: mx.array) -> dict[str, mx.array]:
        stylized = self.transform(content)  # (B, S, S, 3) in [0, 1]
        # The content target needs only relu2_2, so only the first two stages run, and no gradient flows there.
        content_target = mx.stop_gradient(self.vgg16(content, stages=CONTENT_STAGE)[-1])  # (B, S/2, S/2, 128)
        features = self.vgg16(stylized)
        content_loss = mean_square(features[CONTENT_STAGE - 1].astype(mx.float32) - content_target.astype(mx.float32))
        style_loss = sum(mean_square(self.gram(f) - target) for f, target in zip(features, self.style_grams))
        loss = CONTENT_WEIGHT * content_loss + STYLE_WEIGHT * style_loss + TV_WEIGHT * total_variation(stylized)
        return {"transform": loss}


@implements("mlx", "style_transfer")
def build() -> StyleTransferTask:
    return StyleTransferTask()
