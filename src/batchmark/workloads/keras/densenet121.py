"""DenseNet121 (1000 classes, with top) in Keras, trained from scratch.

``keras.applications.DenseNet121`` (Huang et al. 2017, https://arxiv.org/abs/1608.06993) with random weights.
Keras refuses ``include_top=True`` without a fixed input size, so the top is added here as Keras builds it
(global average pool + Dense), with logits out: the softmax is in the loss, as in the PyTorch twin.
"""

from __future__ import annotations

import keras

from batchmark.workloads.keras.task import ClassifierTask
from batchmark.workloads.registry import implements

NUM_CLASSES = 1000


@implements("keras", "densenet121")
def build() -> ClassifierTask:
    base = keras.applications.DenseNet121(weights=None, include_top=False, input_shape=(None, None, 3),
                                          pooling="avg")
    images = keras.Input((None, None, 3))  # (B, S, S, 3)
    logits = keras.layers.Dense(NUM_CLASSES, name="predictions")(base(images))  # (B, 1000)
    return ClassifierTask(keras.Model(images, logits, name="densenet121"), num_classes=NUM_CLASSES)
