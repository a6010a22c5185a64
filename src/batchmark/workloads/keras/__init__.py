"""Keras 3 implementations of the workloads, for the TensorFlow and JAX backends.

Importing this package registers them; the worker sets ``KERAS_BACKEND`` before, so import it in a worker only.
"""

from batchmark.workloads.keras import cyclegan, densenet121, mobilenetv3, resnet50v2, style_transfer  # noqa: F401
