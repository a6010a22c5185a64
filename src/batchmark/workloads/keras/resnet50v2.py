"""ResNet50V2 fine-tuning in Keras: ``keras.applications.ResNet50V2`` without top, plus a 10-class head.

The fine-tuning phase of the Keras transfer-learning guide
(https://keras.io/guides/transfer_learning/#finetuning): the whole base trains (``base.trainable = True``)
while it runs in inference mode (``base(x, training=False)``), so every BatchNorm normalizes with its moving
statistics and never updates them, and its gamma and beta still train. The PyTorch twin
(``workloads/torch/resnet50v2.py``) does the same with ``features.eval()``. Random weights: nothing is
downloaded.

In Keras 3 the guide's code alone does not do what it says: a ``training=True`` passed to the outer model
(as ``fit`` does) overrides the ``training=False`` recorded when the base was called at build time
(https://github.com/keras-team/keras/issues/20285), and the moving statistics change. The step therefore
runs the model with ``training=False``: the head has no layer that behaves differently in training.
"""

from __future__ import annotations

import keras

from batchmark.workloads.keras.task import ClassifierTask
from batchmark.workloads.registry import implements

NUM_CLASSES = 10


class FrozenBatchNormFineTune(ClassifierTask):
    """Trains every variable, BatchNorm gamma and beta included, with BatchNorm in inference mode."""

    def forward(self, images):
        return self.model(images, training=False)  # gradients still flow; only BatchNorm's mode changes


@implements("keras", "resnet50v2_finetune")
def build() -> ClassifierTask:
    base = keras.applications.ResNet50V2(weights=None, include_top=False, input_shape=(None, None, 3))
    base.trainable = True
    images = keras.Input((None, None, 3))  # (B, S, S, 3)
    features = base(images, training=False)  # (B, S/32, S/32, 2048); BatchNorm in inference mode
    pooled = keras.layers.GlobalAveragePooling2D()(features)  # (B, 2048)
    logits = keras.layers.Dense(NUM_CLASSES, name="head")(pooled)  # (B, 10); softmax is in the loss
    model = keras.Model(images, logits, name="resnet50v2_finetune")
    return FrozenBatchNormFineTune(model, num_classes=NUM_CLASSES, learning_rate=1e-5)
