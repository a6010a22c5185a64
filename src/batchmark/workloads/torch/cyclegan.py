"""CycleGAN as in TensorFlow's tutorial: two pix2pix U-Net generators and two PatchGAN discriminators.

Follows https://www.tensorflow.org/tutorials/generative/cyclegan, which builds its networks with
tensorflow_examples' pix2pix (``unet_generator(3, norm_type='instancenorm')`` and
``discriminator(norm_type='instancenorm', target=False)``:
https://github.com/tensorflow/examples/blob/master/tensorflow_examples/models/pix2pix/pix2pix.py).
CycleGAN: Zhu et al. 2017, https://arxiv.org/abs/1703.10593; U-Net and PatchGAN: Isola et al. 2017,
https://arxiv.org/abs/1611.07004. Shapes in comments are NCHW at the tutorial's 256x256.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from batchmark.workloads.architectures.cyclegan import (
    BETAS, DISCRIMINATOR_DOWN_STACK, DOWN_STACK, LAMBDA, LEAKY_SLOPE, LEARNING_RATE, UP_STACK)
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.layers import InstanceNorm
from batchmark.workloads.torch.task import Objective, TorchTask, adam, random_images


def _tf_init(conv: nn.Module) -> nn.Module:
    """tf.random_normal_initializer(0., 0.02) on every kernel, and Keras's zero bias."""
    nn.init.normal_(conv.weight, 0.0, 0.02)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


def downsample(in_channels: int, filters: int, apply_norm: bool = True) -> nn.Sequential:
    """Conv2D(4, stride 2, 'same', no bias) => InstanceNorm => LeakyReLU: halves H and W."""
    # Keras 'same' with kernel 4, stride 2 on an even size pads one pixel on each side, as padding=1 does.
    layers = OrderedDict(conv=_tf_init(nn.Conv2d(in_channels, filters, 4, stride=2, padding=1, bias=False)))
    if apply_norm:
        layers["norm"] = InstanceNorm(filters)
    layers["act"] = nn.LeakyReLU(LEAKY_SLOPE)
    return nn.Sequential(layers)


def upsample(in_channels: int, filters: int, apply_dropout: bool = False) -> nn.Sequential:
    """Conv2DTranspose(4, stride 2, 'same', no bias) => InstanceNorm => Dropout(0.5)? => ReLU: doubles H and W."""
    layers = OrderedDict(
        conv=_tf_init(nn.ConvTranspose2d(in_channels, filters, 4, stride=2, padding=1, bias=False)),
        norm=InstanceNorm(filters),
    )
    if apply_dropout:
        layers["dropout"] = nn.Dropout(0.5)
    layers["act"] = nn.ReLU()
    return nn.Sequential(layers)


class UNetGenerator(nn.Module):
    """pix2pix ``unet_generator``: 8 downsampling blocks, 7 upsampling blocks with skips, tanh output."""

    def __init__(self, output_channels: int = 3):
        super().__init__()
        channels = 3
        self.down_stack = nn.ModuleList()
        for filters, apply_norm in DOWN_STACK:
            self.down_stack.append(downsample(channels, filters, apply_norm))
            channels = filters
        skip_channels = [filters for filters, _ in reversed(DOWN_STACK[:-1])]
        self.up_stack = nn.ModuleList()
        for (filters, apply_dropout), skip in zip(UP_STACK, skip_channels):
            self.up_stack.append(upsample(channels, filters, apply_dropout))
            channels = filters + skip
        self.last = _tf_init(nn.ConvTranspose2d(channels, output_channels, 4, stride=2, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 256, 256) in [-1, 1]
        skips = []
        for down in self.down_stack:
            x = down(x)  # (B, 64, 128, 128), (B, 128, 64, 64), ..., (B, 512, 1, 1)
            skips.append(x)
        for up, skip in zip(self.up_stack, reversed(skips[:-1])):
            x = torch.cat([up(x), skip], dim=1)  # (B, 1024, 2, 2), ..., (B, 512, 32, 32), ..., (B, 128, 128, 128)
        return torch.tanh(self.last(x))  # (B, 3, 256, 256)


class PatchDiscriminator(nn.Module):
    """pix2pix ``discriminator(target=False)``: one real/fake logit per 70x70 patch."""

    def __init__(self):
        super().__init__()
        channels, blocks = 3, OrderedDict()
        for index, (filters, apply_norm) in enumerate(DISCRIMINATOR_DOWN_STACK, start=1):
            blocks[f"down{index}"] = downsample(channels, filters, apply_norm)
            channels = filters
        self.down_stack = nn.Sequential(blocks)
        # ZeroPadding2D(1) followed by a 'valid' convolution is a convolution with padding=1.
        self.conv = _tf_init(nn.Conv2d(channels, 512, 4, stride=1, padding=1, bias=False))
        self.norm = InstanceNorm(512)
        self.act = nn.LeakyReLU(LEAKY_SLOPE)
        self.last = _tf_init(nn.Conv2d(512, 1, 4, stride=1, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 256, 256)
        x = self.down_stack(x)  # (B, 256, 32, 32)
        x = self.act(self.norm(self.conv(x)))  # (B, 512, 31, 31)
        return self.last(x)  # (B, 1, 30, 30) logits


# The tutorial's losses, in float32 whatever the autocast dtype of the logits and images.
def _bce_with_logits(logits: torch.Tensor, target: float) -> torch.Tensor:
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


def _mean_absolute_error(real: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    return (real.float() - generated.float()).abs().mean()


def discriminator_loss(real: torch.Tensor, generated: torch.Tensor) -> torch.Tensor:
    return 0.5 * (_bce_with_logits(real, 1.0) + _bce_with_logits(generated, 0.0))


def generator_loss(generated: torch.Tensor) -> torch.Tensor:
    return _bce_with_logits(generated, 1.0)


def cycle_loss(real: torch.Tensor, cycled: torch.Tensor) -> torch.Tensor:
    return LAMBDA * _mean_absolute_error(real, cycled)


def identity_loss(real: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    return 0.5 * LAMBDA * _mean_absolute_error(real, same)


class CycleGANTask(TorchTask):
    """One tutorial ``train_step``: six generator and four discriminator passes, four losses, four Adams."""

    def __init__(self):
        self.generator_g = UNetGenerator()  # X -> Y
        self.generator_f = UNetGenerator()  # Y -> X
        self.discriminator_x = PatchDiscriminator()  # real X vs F(Y)
        self.discriminator_y = PatchDiscriminator()  # real Y vs G(X)
        self.networks = {
            "generator_g": self.generator_g,
            "generator_f": self.generator_f,
            "discriminator_x": self.discriminator_x,
            "discriminator_y": self.discriminator_y,
        }
        self.optimizers = {
            name: adam(network.parameters(), lr=LEARNING_RATE, betas=BETAS)
            for name, network in self.networks.items()
        }

    def make_batch(self, batch_size, image_size, generator):
        # The tutorial normalises images to [-1, 1], the range of the generators' tanh.
        real_x = random_images(batch_size, image_size, generator) * 2 - 1  # (B, 3, S, S)
        real_y = random_images(batch_size, image_size, generator) * 2 - 1  # (B, 3, S, S)
        return real_x, real_y

    def objectives(self, batch):
        real_x, real_y = batch
        g, f = self.generator_g, self.generator_f
        fake_y = g(real_x)
        cycled_x = f(fake_y)
        fake_x = f(real_y)
        cycled_y = g(fake_x)
        same_x = f(real_x)  # for the identity loss
        same_y = g(real_y)

        disc_real_x = self.discriminator_x(real_x)  # (B, 1, 30, 30)
        disc_real_y = self.discriminator_y(real_y)
        disc_fake_x = self.discriminator_x(fake_x)
        disc_fake_y = self.discriminator_y(fake_y)

        total_cycle = cycle_loss(real_x, cycled_x) + cycle_loss(real_y, cycled_y)
        total_gen_g = generator_loss(disc_fake_y) + total_cycle + identity_loss(real_y, same_y)
        total_gen_f = generator_loss(disc_fake_x) + total_cycle + identity_loss(real_x, same_x)
        disc_x = discriminator_loss(disc_real_x, disc_fake_x)
        disc_y = discriminator_loss(disc_real_y, disc_fake_y)
        # As in the tutorial, each loss is differentiated only with respect to its own network's weights:
        # the discriminator losses do not detach the fakes, and backward(inputs=...) keeps them off the generators.
        return [
            Objective(total_gen_g, self.optimizers["generator_g"]),
            Objective(total_gen_f, self.optimizers["generator_f"]),
            Objective(disc_x, self.optimizers["discriminator_x"]),
            Objective(disc_y, self.optimizers["discriminator_y"]),
        ]


@implements("torch", "cyclegan")
def build() -> CycleGANTask:
    return CycleGANTask()
