"""CycleGAN in MLX as in TensorFlow's tutorial: two pix2pix U-Net generators and two PatchGAN discriminators,
the twin of ``batchmark.workloads.torch.cyclegan`` (https://www.tensorflow.org/tutorials/generative/cyclegan;
tensorflow_examples' pix2pix ``unet_generator(3, norm_type='instancenorm')`` and
``discriminator(norm_type='instancenorm', target=False)``; Zhu et al. 2017, https://arxiv.org/abs/1703.10593;
Isola et al. 2017, https://arxiv.org/abs/1611.07004). Shapes in comments are NHWC at the tutorial's 256x256.

The tutorial differentiates each of its four losses with respect to its own network only, from one forward
pass (a persistent tape; torch's twin calls backward four times on one graph). MLX has no reusable pullback:
one `value_and_grad` gives one gradient of one scalar. So the step takes two: the generators' (the sum of
both generators' losses, their shared cycle loss counted once, which gives each generator exactly its own
loss's gradient, since neither generator's adversarial or identity loss depends on the other) and the
discriminators' (on the generated images, stopped). The gradients are the tutorial's; the discriminators
run twice on the generated images (once for the generators' losses, once for their own), as PyTorch's
CycleGAN code runs them (``netD(fake.detach())``), while the cycle paths are differentiated once for both
generators where the tutorial does it once per generator. The FLOPs counted are the tutorial's step's
(mlx_flops.py), as on every framework; docs/limitations.md says how far this step's own work is from them.
"""

from __future__ import annotations

from typing import NamedTuple

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.cyclegan import (
    BETAS, DISCRIMINATOR_DOWN_STACK, DOWN_STACK, LAMBDA, LEAKY_SLOPE, LEARNING_RATE, UP_STACK)
from batchmark.workloads.mlx.layers import InstanceNorm
from batchmark.workloads.mlx.task import Networks, adam, random_images
from batchmark.workloads.registry import implements

GENERATORS = ("generator_g", "generator_f")
DISCRIMINATORS = ("discriminator_x", "discriminator_y")


def _tf_init(conv: nn.Module) -> nn.Module:
    """tf.random_normal_initializer(0., 0.02) on every kernel, and Keras's zero bias."""
    conv.weight = 0.02 * mx.random.normal(conv.weight.shape)
    if "bias" in conv:
        conv.bias = mx.zeros(conv.bias.shape)
    return conv


class Downsample(nn.Module):
    """Conv2D(4, stride 2, 'same', no bias) => InstanceNorm? => LeakyReLU: halves H and W ('same' with
    kernel 4, stride 2 on an even size pads one pixel on each side)."""

    def __init__(self, in_channels: int, filters: int, apply_norm: bool = True):
        super().__init__()
        self.conv = _tf_init(nn.Conv2d(in_channels, filters, 4, stride=2, padding=1, bias=False))
        if apply_norm:
            self.norm = InstanceNorm(filters)

    def __call__(self, x: mx.array) -> mx.array:
        x = self.conv(x)
        return nn.leaky_relu(self.norm(x) if "norm" in self else x, LEAKY_SLOPE)


class Upsample(nn.Module):
    """Conv2DTranspose(4, stride 2, 'same', no bias) => InstanceNorm => Dropout(0.5)? => ReLU: doubles H and W."""

    def __init__(self, in_channels: int, filters: int, apply_dropout: bool = False):
        super().__init__()
        self.conv = _tf_init(nn.ConvTranspose2d(in_channels, filters, 4, stride=2, padding=1, bias=False))
        self.norm = InstanceNorm(filters)
        if apply_dropout:
            self.dropout = nn.Dropout(0.5)

    def __call__(self, x: mx.array) -> mx.array:
        x = self.norm(self.conv(x))
        return nn.relu(self.dropout(x) if "dropout" in self else x)


class UNetGenerator(nn.Module):
    """pix2pix ``unet_generator``: 8 downsampling blocks, 7 upsampling blocks with skips, tanh output."""

    def __init__(self, output_channels: int = 3):
        super().__init__()
        channels, self.down_stack = 3, []
        for filters, apply_norm in DOWN_STACK:
            self.down_stack.append(Downsample(channels, filters, apply_norm))
            channels = filters
        skip_channels = [filters for filters, _ in reversed(DOWN_STACK[:-1])]
        self.up_stack = []
        for (filters, apply_dropout), skip in zip(UP_STACK, skip_channels):
            self.up_stack.append(Upsample(channels, filters, apply_dropout))
            channels = filters + skip
        self.last = _tf_init(nn.ConvTranspose2d(channels, output_channels, 4, stride=2, padding=1))

    def __call__(self, x: mx.array) -> mx.array:  # (B, 256, 256, 3) in [-1, 1]
        skips = []
        for down in self.down_stack:
            x = down(x)  # (B, 128, 128, 64), (B, 64, 64, 128), ..., (B, 1, 1, 512)
            skips.append(x)
        for up, skip in zip(self.up_stack, reversed(skips[:-1])):
            x = mx.concatenate([up(x), skip], axis=-1)  # (B, 2, 2, 1024), ..., (B, 128, 128, 128)
        return mx.tanh(self.last(x))  # (B, 256, 256, 3)


class PatchDiscriminator(nn.Module):
    """pix2pix ``discriminator(target=False)``: one real/fake logit per 70x70 patch."""

    def __init__(self):
        super().__init__()
        channels, self.down_stack = 3, []
        for filters, apply_norm in DISCRIMINATOR_DOWN_STACK:
            self.down_stack.append(Downsample(channels, filters, apply_norm))
            channels = filters
        # ZeroPadding2D(1) followed by a 'valid' convolution is a convolution with padding=1.
        self.conv = _tf_init(nn.Conv2d(channels, 512, 4, stride=1, padding=1, bias=False))
        self.norm = InstanceNorm(512)
        self.last = _tf_init(nn.Conv2d(512, 1, 4, stride=1, padding=1))

    def __call__(self, x: mx.array) -> mx.array:  # (B, 256, 256, 3)
        for down in self.down_stack:
            x = down(x)  # (B, 32, 32, 256) at the end
        x = nn.leaky_relu(self.norm(self.conv(x)), LEAKY_SLOPE)  # (B, 31, 31, 512)
        return self.last(x)  # (B, 30, 30, 1) logits


# The tutorial's losses, in float32 whatever the dtype of the logits and images.
def _bce_with_logits(logits: mx.array, target: float) -> mx.array:
    logits = logits.astype(mx.float32)
    return nn.losses.binary_cross_entropy(logits, mx.full(logits.shape, target), with_logits=True, reduction="mean")


def _mean_absolute_error(real: mx.array, generated: mx.array) -> mx.array:
    return (real.astype(mx.float32) - generated.astype(mx.float32)).abs().mean()


def discriminator_loss(real: mx.array, generated: mx.array) -> mx.array:
    return 0.5 * (_bce_with_logits(real, 1.0) + _bce_with_logits(generated, 0.0))


def generator_loss(generated: mx.array) -> mx.array:
    return _bce_with_logits(generated, 1.0)


def cycle_loss(real: mx.array, cycled: mx.array) -> mx.array:
    return LAMBDA * _mean_absolute_error(real, cycled)


def identity_loss(real: mx.array, same: mx.array) -> mx.array:
    return 0.5 * LAMBDA * _mean_absolute_error(real, same)


class GeneratorPass(NamedTuple):
    """The generators' half of the tutorial's forward pass."""

    losses: dict[str, mx.array]  # generator name -> its loss
    total_cycle: mx.array  # the cycle loss, a term of both generators' losses
    fake_x: mx.array  # F(real_y), (B, S, S, 3)
    fake_y: mx.array  # G(real_x)
    disc_fake_x: mx.array  # discriminator_x(fake_x), (B, 30, 30, 1)
    disc_fake_y: mx.array


class CycleGANTask:
    """One tutorial ``train_step``: six generator and four discriminator passes, four losses, four Adams."""

    def __init__(self):
        self.networks = {name: UNetGenerator() for name in GENERATORS}  # generator_g: X -> Y, _f: Y -> X
        self.networks |= {name: PatchDiscriminator() for name in DISCRIMINATORS}  # _x: real X vs F(Y), _y
        self.model = Networks(**self.networks)
        self.generators = Networks(**{name: self.networks[name] for name in GENERATORS})
        self.discriminators = Networks(**{name: self.networks[name] for name in DISCRIMINATORS})
        self.optimizers = {name: adam(LEARNING_RATE, BETAS) for name in self.networks}

    def make_batch(self, batch_size, image_size, seed):
        x_key, y_key = mx.random.split(mx.random.key(seed))
        # The tutorial normalises images to [-1, 1], the range of the generators' tanh.
        real_x = random_images(batch_size, image_size, x_key) * 2 - 1  # (B, S, S, 3)
        real_y = random_images(batch_size, image_size, y_key) * 2 - 1
        return real_x, real_y

    def set_modes(self) -> None:
        self.model.train()

    def generator_pass(self, real_x: mx.array, real_y: mx.array) -> GeneratorPass:
        g, f = self.networks["generator_g"], self.networks["generator_f"]
        fake_y = g(real_x)
        cycled_x = f(fake_y)
        fake_x = f(real_y)
        cycled_y = g(fake_x)
        same_x = f(real_x)  # for the identity loss
        same_y = g(real_y)
        disc_fake_x = self.networks["discriminator_x"](fake_x)
        disc_fake_y = self.networks["discriminator_y"](fake_y)
        total_cycle = cycle_loss(real_x, cycled_x) + cycle_loss(real_y, cycled_y)
        losses = {"generator_g": generator_loss(disc_fake_y) + total_cycle + identity_loss(real_y, same_y),
                  "generator_f": generator_loss(disc_fake_x) + total_cycle + identity_loss(real_x, same_x)}
        return GeneratorPass(losses, total_cycle, fake_x, fake_y, disc_fake_x, disc_fake_y)

    def discriminator_losses(self, real_x: mx.array, real_y: mx.array, disc_fake_x: mx.array,
                             disc_fake_y: mx.array) -> dict[str, mx.array]:
        return {"discriminator_x": discriminator_loss(self.networks["discriminator_x"](real_x), disc_fake_x),
                "discriminator_y": discriminator_loss(self.networks["discriminator_y"](real_y), disc_fake_y)}

    def losses(self, real_x: mx.array, real_y: mx.array) -> dict[str, mx.array]:
        """The tutorial's forward pass, each discriminator run once on the generated images: what FLOPs count."""
        generated = self.generator_pass(real_x, real_y)
        return {**generated.losses,
                **self.discriminator_losses(real_x, real_y, generated.disc_fake_x, generated.disc_fake_y)}

    def _generators_objective(self, real_x, real_y):
        """Both generators' losses, the shared cycle term once: its gradient with respect to each generator is
        that generator's own loss's. Returns the generated images too, for the discriminators."""
        generated = self.generator_pass(real_x, real_y)
        objective = sum(generated.losses.values()) - generated.total_cycle
        return objective, sum(generated.losses.values()), generated.fake_x, generated.fake_y

    def _discriminators_objective(self, real_x, real_y, fake_x, fake_y):
        x, y = self.networks["discriminator_x"], self.networks["discriminator_y"]
        return sum(self.discriminator_losses(real_x, real_y, x(fake_x), y(fake_y)).values())

    def make_step(self):
        for name, optimizer in self.optimizers.items():
            optimizer.init(self.networks[name].trainable_parameters())
        generators_step = nn.value_and_grad(self.generators, self._generators_objective)
        discriminators_step = nn.value_and_grad(self.discriminators, self._discriminators_objective)

        def train_step(real_x: mx.array, real_y: mx.array) -> mx.array:
            (_, generator_losses, fake_x, fake_y), generator_gradients = generators_step(real_x, real_y)
            discriminator_losses, discriminator_gradients = discriminators_step(
                real_x, real_y, mx.stop_gradient(fake_x), mx.stop_gradient(fake_y))
            for gradients in (generator_gradients, discriminator_gradients):
                for name, gradient in gradients.items():
                    self.optimizers[name].update(self.networks[name], gradient)
            return generator_losses + discriminator_losses  # the four losses' sum, as the torch twin reports

        return train_step


@implements("mlx", "cyclegan")
def build() -> CycleGANTask:
    return CycleGANTask()
