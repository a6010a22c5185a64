"""Fast neural style transfer: a feed-forward transform net trained through a frozen VGG16 perceptual loss.

Johnson, Alahi & Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and Super-Resolution",
https://arxiv.org/abs/1603.08155 (transform net in its supplementary material), with the instance norm
(https://arxiv.org/abs/1607.08022), nearest upsampling + convolution and loss weights of the PyTorch port
(https://github.com/pytorch/examples/tree/main/fast_neural_style). A Keras 3 twin of
``workloads/torch/style_transfer.py``: same layers, parameters and FLOPs. The loss network is
``keras.applications.VGG16`` (https://arxiv.org/abs/1409.1556) with random weights: the benchmark measures
speed, not style, and must not download anything. Images are NHWC.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from batchmark.workloads.architectures.style_transfer import (
    CONTENT_STAGE, CONTENT_WEIGHT, DOWN_CONVS, IMAGENET_MEAN, IMAGENET_STD, LEARNING_RATE, RESIDUAL_BLOCKS, STYLE_WEIGHT,
    TV_WEIGHT, UP_FILTERS)
from batchmark.workloads.keras.layers import InstanceNorm
from batchmark.workloads.keras.task import KerasTask, random_images
from batchmark.workloads.registry import implements

# The loss's VGG16 feature maps: relu1_2, relu2_2, relu3_3, relu4_3 (Keras's VGG convolutions include the ReLU).
FEATURE_LAYERS = ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"]
CONTENT_LAYER = FEATURE_LAYERS[CONTENT_STAGE - 1]
MEAN, STD = (np.array(values, np.float32) for values in (IMAGENET_MEAN, IMAGENET_STD))


def conv_block(x, filters: int, kernel: int, stride: int = 1, relu: bool = True, name: str = "conv"):
    """Conv (zero padding k//2, with bias) => InstanceNorm => ReLU?"""
    if stride == 1:
        # An odd kernel's 'same' padding is k//2 on every side: the twin's padding exactly.
        x = layers.Conv2D(filters, kernel, padding="same", name=f"{name}_conv")(x)
    else:
        # At stride 2 'same' would pad 0 before and 1 after (same shape and FLOPs, grid shifted by a pixel);
        # explicit k//2 on every side then 'valid' samples exactly where the twin's padding=k//2 does.
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
        x = layers.Conv2D(filters, kernel, strides=stride, name=f"{name}_conv")(x)
    x = InstanceNorm(name=f"{name}_norm")(x)
    if relu:
        x = layers.ReLU(name=f"{name}_act")(x)
    return x


def transform_net() -> keras.Model:
    """Image in [0, 1] -> stylised image in [0, 1], same size (S must be a multiple of 4)."""
    inputs = keras.Input((None, None, 3), name="content")  # (B, S, S, 3)
    x = inputs
    for index, (filters, kernel, stride) in enumerate(DOWN_CONVS, start=1):
        x = conv_block(x, filters, kernel, stride, name=f"down{index}")  # ..., (B, S/4, S/4, 128)
    channels = DOWN_CONVS[-1][0]
    for index in range(1, RESIDUAL_BLOCKS + 1):
        body = conv_block(x, channels, 3, name=f"res{index}_a")
        body = conv_block(body, channels, 3, relu=False, name=f"res{index}_b")
        # No ReLU after the sum, as in Johnson's supplementary material.
        x = layers.Add(name=f"res{index}_add")([x, body])  # (B, S/4, S/4, 128)
    for index, filters in enumerate(UP_FILTERS, start=1):
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"up{index}_upsample")(x)
        x = conv_block(x, filters, 3, name=f"up{index}")  # (B, S/2, S/2, 64), (B, S, S, 32)
    x = layers.Conv2D(3, 9, padding="same", activation="tanh", name="last")(x)  # (B, S, S, 3) in [-1, 1]
    outputs = layers.Rescaling(0.5, offset=0.5, name="to_unit_range")(x)  # (tanh + 1) / 2, in [0, 1]
    return keras.Model(inputs, outputs, name="transform")


def vgg16_features() -> tuple[keras.Model, keras.Model]:
    """Frozen VGG16 -> (its four loss feature maps, its relu2_2 alone); both share the same layers."""
    vgg = keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))
    vgg.trainable = False
    # Models end at the last layer the loss reads, so block4_pool and block5 are never run (the twin never
    # builds them), and the content target runs only the first two stages.
    features = keras.Model(vgg.input, [vgg.get_layer(name).output for name in FEATURE_LAYERS], name="vgg16")
    content = keras.Model(vgg.input, vgg.get_layer(CONTENT_LAYER).output, name="vgg16_relu2_2")
    return features, content


def imagenet_normalize(images):
    """(B, S, S, 3) in [0, 1] -> float32 standardised with ImageNet's per-channel mean and std."""
    return (ops.cast(images, "float32") - MEAN) / STD


def gram_matrix(features):
    """(B, H, W, C) -> (B, C, C) channel correlations / (C*H*W), in float32 whatever the compute dtype."""
    batch, height, width, channels = ops.shape(features)
    # A float16 matmul over H*W products would lose precision or overflow.
    flat = ops.reshape(ops.cast(features, "float32"), (batch, height * width, channels))  # (B, HW, C)
    return ops.matmul(ops.transpose(flat, (0, 2, 1)), flat) / ops.cast(channels * height * width, "float32")


def total_variation(images):
    """Summed squared differences between neighbouring pixels, averaged over the batch (Johnson's regulariser)."""
    x = ops.cast(images, "float32")  # (B, S, S, 3)
    vertical = ops.sum(ops.square(x[:, 1:, :, :] - x[:, :-1, :, :]))
    horizontal = ops.sum(ops.square(x[:, :, 1:, :] - x[:, :, :-1, :]))
    return (vertical + horizontal) / ops.cast(ops.shape(x)[0], "float32")


def _mse(a, b):
    return ops.mean(ops.square(ops.cast(a, "float32") - ops.cast(b, "float32")))


class StyleTransferTask(KerasTask):
    """One training step: stylise a batch, compare it through VGG16 with its content and one fixed style."""

    def __init__(self):
        self.transform = transform_net()
        # The relu2_2 model is not listed in `networks`: its variables are a subset of vgg16's.
        self.vgg16, self.vgg16_content = vgg16_features()
        self.networks = {"transform": self.transform, "vgg16": self.vgg16}
        self.optimizers = {"transform": keras.optimizers.Adam(LEARNING_RATE)}
        self.style_grams: list = []  # (1, C, C) float32 per VGG feature map; set by make_batch

    def make_batch(self, batch_size, image_size, rng):
        content = random_images(batch_size, image_size, rng)  # (B, S, S, 3) in [0, 1]
        # The style targets are fixed for a whole training run, so they are computed once, not every step.
        style = random_images(1, image_size, rng)  # (1, S, S, 3)
        features = self.vgg16(imagenet_normalize(style), training=False)
        self.style_grams = [gram_matrix(f) for f in features]
        return (content,)

    def losses(self, batch):
        (content,) = batch
        stylized = self.transform(content, training=True)  # (B, S, S, 3) in [0, 1]
        content_target = ops.stop_gradient(
            self.vgg16_content(imagenet_normalize(content), training=False)  # (B, S/2, S/2, 128)
        )
        features = self.vgg16(imagenet_normalize(stylized), training=False)

        content_loss = _mse(features[FEATURE_LAYERS.index(CONTENT_LAYER)], content_target)
        # Each (1, C, C) target broadcasts over the batch, as the twin's expand does.
        style_loss = sum(_mse(gram_matrix(f), target) for f, target in zip(features, self.style_grams))
        loss = CONTENT_WEIGHT * content_loss + STYLE_WEIGHT * style_loss + TV_WEIGHT * total_variation(stylized)
        return {"transform": loss}


@implements("keras", "style_transfer")
def build() -> StyleTransferTask:
    return StyleTransferTask()
