"""The interface every MLX workload implements, and the generic image-classifier task.

MLX is functional and NHWC: a task owns one trained network and its optimizer, makes its synthetic batch
channels-last, and says what a step's loss is as a function of the network, so that `nn.value_and_grad` can
differentiate it. Devices, precision, compilation and the honest evaluation of a lazy step are the backend's
(`batchmark.frameworks.mlx_backend`), so every plan runs the same model code.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim


def adam(learning_rate: float) -> optim.Adam:
    """Adam as torch.optim.Adam and Keras run it: MLX's own Adam leaves out the bias correction by default."""
    return optim.Adam(learning_rate=learning_rate, betas=[0.9, 0.999], eps=1e-8, bias_correction=True)


def random_images(batch_size: int, image_size: int, key: mx.array) -> mx.array:
    """Images in [0, 1], shape (B, S, S, 3): MLX's convolutions are channels-last."""
    return mx.random.uniform(shape=(batch_size, image_size, image_size, 3), key=key)


class ClassifierTask:
    """Image classification with cross-entropy and Adam: the seed's ResNet, MobileNet and DenseNet steps."""

    def __init__(self, model: nn.Module, num_classes: int, learning_rate: float = 1e-3):
        self.model = model
        self.num_classes = num_classes
        self.optimizer = adam(learning_rate)

    def make_batch(self, batch_size: int, image_size: int, seed: int) -> tuple[mx.array, ...]:
        image_key, label_key = mx.random.split(mx.random.key(seed))
        labels = mx.random.randint(0, self.num_classes, (batch_size,), key=label_key)
        return random_images(batch_size, image_size, image_key), labels

    def set_modes(self) -> None:
        self.model.train()

    def loss(self, model: nn.Module, images: mx.array, labels: mx.array) -> mx.array:
        logits = model(images)  # (B, classes)
        # Softmax + cross-entropy in fp32 whatever the plan's precision, as the torch and Keras twins do.
        return nn.losses.cross_entropy(logits.astype(mx.float32), labels, reduction="mean")
