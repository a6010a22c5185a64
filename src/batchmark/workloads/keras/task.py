"""The interface every Keras workload implements, and the generic image-classifier task.

Keras 3 code here uses only ``keras`` and ``keras.ops``, so one model file runs on TensorFlow and on JAX.
A task owns its networks and one optimizer per trained network, and says what one training step's losses
are. It knows nothing of devices, precision, XLA or gradients: the TensorFlow and JAX backends set the
dtype policy before the task is built, take the gradients of each loss with respect to its own network's
trainable variables, and apply that network's optimizer, so every plan runs the same model code.
Images are NHWC (Keras's default ``channels_last``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import keras
import numpy as np
from keras import ops


class KerasTask(ABC):
    #: Every network that runs in a step, trainable or frozen, by name.
    networks: dict[str, keras.Model]
    #: Network name -> the optimizer of that network's trainable variables; one loss per entry.
    optimizers: dict[str, keras.optimizers.Optimizer]

    @abstractmethod
    def make_batch(self, batch_size: int, image_size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """Synthetic inputs from `rng` (float32 images, int32 token ids), made once and reused every step (the
        backend places them)."""

    @abstractmethod
    def losses(self, batch: tuple) -> dict[str, object]:
        """Forward pass of one training step: network name -> its scalar float32 loss (keys = optimizers')."""

    def trained(self) -> list[str]:
        return list(self.optimizers)


def random_images(batch_size: int, image_size: int, rng: np.random.Generator) -> np.ndarray:
    """Images in [0, 1], shape (B, S, S, 3)."""
    return rng.random((batch_size, image_size, image_size, 3), dtype=np.float32)


class ClassifierTask(KerasTask):
    """Image classification with cross-entropy and Adam: the seed's ResNet, MobileNet and DenseNet steps."""

    def __init__(self, model: keras.Model, num_classes: int, learning_rate: float = 1e-3):
        self.model = model
        self.num_classes = num_classes
        self.networks = {"model": model}
        self.optimizers = {"model": keras.optimizers.Adam(learning_rate)}

    def make_batch(self, batch_size, image_size, rng):
        labels = rng.integers(0, self.num_classes, size=(batch_size,)).astype(np.int32)
        return random_images(batch_size, image_size, rng), labels

    def forward(self, images):
        return self.model(images, training=True)

    def losses(self, batch):
        images, labels = batch
        logits = self.forward(images)  # (B, classes), in the policy's compute dtype
        # Softmax + cross-entropy in float32, as Keras's mixed-precision guide asks of the last layer.
        loss = keras.losses.sparse_categorical_crossentropy(labels, ops.cast(logits, "float32"), from_logits=True)
        return {"model": ops.mean(loss)}
