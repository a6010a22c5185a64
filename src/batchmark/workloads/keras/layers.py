"""Small layers shared by the Keras workloads.

``InstanceNorm`` is the ``InstanceNormalization`` layer of tensorflow_examples' pix2pix
(https://github.com/tensorflow/examples/blob/master/tensorflow_examples/models/pix2pix/pix2pix.py), after
Ulyanov et al. 2016 (https://arxiv.org/abs/1607.08022); its PyTorch twin is ``workloads/torch/layers.py``.
"""

from __future__ import annotations

import keras
from keras import ops


class InstanceNorm(keras.layers.Layer):
    """Normalise each sample's channel over H and W, then a learnable per-channel scale and offset.

    Accepts 1x1 maps (the pix2pix U-Net bottleneck at 256x256), where the variance is 0 and the output is just
    ``offset``, exactly as in the TensorFlow layer.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):  # (B, H, W, C)
        channels = input_shape[-1:]
        # The TensorFlow layer's initialisers. autocast=False: under a mixed policy the affine step runs in
        # float32 with the float32 variables, as the PyTorch twin's does, instead of with float16 copies.
        self.scale = self.add_weight(
            name="scale", shape=channels, initializer=keras.initializers.RandomNormal(1.0, 0.02), autocast=False
        )
        self.offset = self.add_weight(name="offset", shape=channels, initializer="zeros", autocast=False)

    def call(self, x):  # (B, H, W, C) in the compute dtype
        # Statistics in float32: a float16 variance over a 128x128 map loses most of its digits.
        x32 = ops.cast(x, "float32")
        mean, variance = ops.moments(x32, axes=[1, 2], keepdims=True)  # (B, 1, 1, C) each
        normalized = (x32 - mean) * ops.rsqrt(variance + self.epsilon)
        out = normalized * ops.cast(self.scale, "float32") + ops.cast(self.offset, "float32")
        return ops.cast(out, self.compute_dtype)  # what the next convolution would be fed anyway

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
