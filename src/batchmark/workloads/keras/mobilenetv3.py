"""MobileNetV3-Large (alpha 1.0, 1000 classes, with top) in Keras, trained from scratch.

``keras.applications.MobileNetV3Large`` (Howard et al. 2019, https://arxiv.org/abs/1905.02244) with random
weights. Its built-in preprocessing maps [0, 255] to [-1, 1]; our synthetic images are in [0, 1], so a
``Rescaling(2, offset=-1)`` replaces it, as the PyTorch twin's ``images * 2 - 1`` does. The classifier's
softmax is left to the loss (logits out), like the other classifiers.
"""

from __future__ import annotations

import keras

from batchmark.workloads.keras.task import ClassifierTask
from batchmark.workloads.registry import implements

NUM_CLASSES = 1000


@implements("keras", "mobilenetv3")
def build() -> ClassifierTask:
    network = keras.applications.MobileNetV3Large(
        weights=None, input_shape=(None, None, 3), classes=NUM_CLASSES, include_preprocessing=False,
        classifier_activation=None,
    )
    images = keras.Input((None, None, 3))  # (B, S, S, 3) in [0, 1]
    logits = network(keras.layers.Rescaling(2.0, offset=-1.0)(images))  # (B, 1000)
    return ClassifierTask(keras.Model(images, logits, name="mobilenetv3"), num_classes=NUM_CLASSES)
