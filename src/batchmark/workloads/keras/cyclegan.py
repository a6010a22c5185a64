"""CycleGAN as in TensorFlow's tutorial: two pix2pix U-Net generators and two PatchGAN discriminators.

Follows https://www.tensorflow.org/tutorials/generative/cyclegan, which builds its networks with
tensorflow_examples' pix2pix (``unet_generator(3, norm_type='instancenorm')`` and
``discriminator(norm_type='instancenorm', target=False)``:
https://github.com/tensorflow/examples/blob/master/tensorflow_examples/models/pix2pix/pix2pix.py), written here
in Keras 3 so that it runs on TensorFlow and JAX. CycleGAN: Zhu et al. 2017, https://arxiv.org/abs/1703.10593;
U-Net and PatchGAN: Isola et al. 2017, https://arxiv.org/abs/1611.07004. The PyTorch twin is
``workloads/torch/cyclegan.py``. Shapes in comments are NHWC at the tutorial's 256x256.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from batchmark.workloads.architectures.cyclegan import (
    BETAS, DISCRIMINATOR_DOWN_STACK, DOWN_STACK, LAMBDA, LEAKY_SLOPE, LEARNING_RATE, UP_STACK)
from batchmark.workloads.keras.layers import InstanceNorm
from batchmark.workloads.keras.task import KerasTask, random_images
from batchmark.workloads.registry import implements


def _tf_init() -> keras.initializers.Initializer:
    """tf.random_normal_initializer(0., 0.02), a fresh one per layer (Keras's bias stays zeros)."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def downsample(x, filters: int, apply_norm: bool, name: str):
    """Conv2D(4, stride 2, 'same', no bias) => InstanceNorm => LeakyReLU: halves H and W."""
    # 'same' with kernel 4, stride 2 on an even size pads one pixel on each side, as the twin's padding=1 does.
    x = layers.Conv2D(
        filters, 4, strides=2, padding="same", kernel_initializer=_tf_init(), use_bias=False, name=f"{name}_conv"
    )(x)
    if apply_norm:
        x = InstanceNorm(name=f"{name}_norm")(x)
    return layers.LeakyReLU(LEAKY_SLOPE, name=f"{name}_act")(x)


def upsample(x, filters: int, apply_dropout: bool, name: str):
    """Conv2DTranspose(4, stride 2, 'same', no bias) => InstanceNorm => Dropout(0.5)? => ReLU: doubles H and W."""
    x = layers.Conv2DTranspose(
        filters, 4, strides=2, padding="same", kernel_initializer=_tf_init(), use_bias=False, name=f"{name}_conv"
    )(x)
    x = InstanceNorm(name=f"{name}_norm")(x)
    if apply_dropout:
        x = layers.Dropout(0.5, name=f"{name}_dropout")(x)
    return layers.ReLU(name=f"{name}_act")(x)


def unet_generator(name: str, output_channels: int = 3) -> keras.Model:
    """pix2pix ``unet_generator``: 8 downsampling blocks, 7 upsampling blocks with skips, tanh output."""
    inputs = keras.Input((None, None, 3), name="image")  # (B, 256, 256, 3) in [-1, 1]
    x, skips = inputs, []
    for index, (filters, apply_norm) in enumerate(DOWN_STACK, start=1):
        x = downsample(x, filters, apply_norm, f"down{index}")  # (B, 128, 128, 64), ..., (B, 1, 1, 512)
        skips.append(x)
    for index, ((filters, apply_dropout), skip) in enumerate(zip(UP_STACK, reversed(skips[:-1])), start=1):
        x = upsample(x, filters, apply_dropout, f"up{index}")
        # (B, 2, 2, 1024), ..., (B, 32, 32, 512), ..., (B, 128, 128, 128)
        x = layers.Concatenate(name=f"up{index}_concat")([x, skip])
    outputs = layers.Conv2DTranspose(
        output_channels, 4, strides=2, padding="same", kernel_initializer=_tf_init(), activation="tanh", name="last"
    )(x)  # (B, 256, 256, 3)
    return keras.Model(inputs, outputs, name=name)


def patch_discriminator(name: str) -> keras.Model:
    """pix2pix ``discriminator(target=False)``: one real/fake logit per 70x70 patch."""
    inputs = keras.Input((None, None, 3), name="input_image")  # (B, 256, 256, 3)
    x = inputs
    for index, (filters, apply_norm) in enumerate(DISCRIMINATOR_DOWN_STACK, start=1):
        x = downsample(x, filters, apply_norm, f"down{index}")  # ..., (B, 32, 32, 256)
    x = layers.ZeroPadding2D(name="zero_pad1")(x)  # (B, 34, 34, 256)
    x = layers.Conv2D(512, 4, kernel_initializer=_tf_init(), use_bias=False, name="conv")(x)  # (B, 31, 31, 512)
    x = InstanceNorm(name="norm")(x)
    x = layers.LeakyReLU(LEAKY_SLOPE, name="act")(x)
    x = layers.ZeroPadding2D(name="zero_pad2")(x)  # (B, 33, 33, 512)
    logits = layers.Conv2D(1, 4, kernel_initializer=_tf_init(), name="last")(x)  # (B, 30, 30, 1)
    return keras.Model(inputs, logits, name=name)


# The tutorial's losses, in float32 whatever the compute dtype of the logits and images.
def _bce_with_logits(logits, target: float):
    logits = ops.cast(logits, "float32")
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))


def _mean_absolute_error(real, generated):
    return ops.mean(ops.abs(ops.cast(real, "float32") - ops.cast(generated, "float32")))


def discriminator_loss(real, generated):
    return 0.5 * (_bce_with_logits(real, 1.0) + _bce_with_logits(generated, 0.0))


def generator_loss(generated):
    return _bce_with_logits(generated, 1.0)


def cycle_loss(real, cycled):
    return LAMBDA * _mean_absolute_error(real, cycled)


def identity_loss(real, same):
    return 0.5 * LAMBDA * _mean_absolute_error(real, same)


class CycleGANTask(KerasTask):
    """One tutorial ``train_step``: six generator and four discriminator passes, four losses, four Adams."""

    def __init__(self):
        self.generator_g = unet_generator("generator_g")  # X -> Y
        self.generator_f = unet_generator("generator_f")  # Y -> X
        self.discriminator_x = patch_discriminator("discriminator_x")  # real X vs F(Y)
        self.discriminator_y = patch_discriminator("discriminator_y")  # real Y vs G(X)
        self.networks = {
            "generator_g": self.generator_g,
            "generator_f": self.generator_f,
            "discriminator_x": self.discriminator_x,
            "discriminator_y": self.discriminator_y,
        }
        self.optimizers = {name: keras.optimizers.Adam(LEARNING_RATE, beta_1=BETAS[0], beta_2=BETAS[1])
                           for name in self.networks}

    def make_batch(self, batch_size, image_size, rng):
        # The tutorial normalises images to [-1, 1], the range of the generators' tanh.
        real_x = random_images(batch_size, image_size, rng) * 2 - 1  # (B, S, S, 3)
        real_y = random_images(batch_size, image_size, rng) * 2 - 1  # (B, S, S, 3)
        return real_x, real_y

    def losses(self, batch):
        real_x, real_y = batch
        g, f = self.generator_g, self.generator_f
        fake_y = g(real_x, training=True)
        cycled_x = f(fake_y, training=True)
        fake_x = f(real_y, training=True)
        cycled_y = g(fake_x, training=True)
        same_x = f(real_x, training=True)  # for the identity loss
        same_y = g(real_y, training=True)

        disc_real_x = self.discriminator_x(real_x, training=True)  # (B, 30, 30, 1)
        disc_real_y = self.discriminator_y(real_y, training=True)
        disc_fake_x = self.discriminator_x(fake_x, training=True)
        disc_fake_y = self.discriminator_y(fake_y, training=True)

        total_cycle = cycle_loss(real_x, cycled_x) + cycle_loss(real_y, cycled_y)
        # As in the tutorial, the backend differentiates each loss with respect to its own network only, so
        # the discriminator losses need not stop the fakes' gradients.
        return {
            "generator_g": generator_loss(disc_fake_y) + total_cycle + identity_loss(real_y, same_y),
            "generator_f": generator_loss(disc_fake_x) + total_cycle + identity_loss(real_x, same_x),
            "discriminator_x": discriminator_loss(disc_real_x, disc_fake_x),
            "discriminator_y": discriminator_loss(disc_real_y, disc_fake_y),
        }


@implements("keras", "cyclegan")
def build() -> CycleGANTask:
    return CycleGANTask()
