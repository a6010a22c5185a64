"""Keras 3 implementations of the workloads, for the TensorFlow and JAX backends.

Importing this package registers them; the worker sets ``KERAS_BACKEND`` before, so import it in a worker only.
"""

from batchmark.workloads.keras import (cyclegan, densenet121, gpt2, mobilenetv3, resnet50v2,  # noqa: F401
                                      style_transfer, vit)
