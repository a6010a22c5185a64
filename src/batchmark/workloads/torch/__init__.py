"""PyTorch implementations of the workloads. Importing this package registers them (worker processes only)."""

from batchmark.workloads.torch import cyclegan, densenet121, mobilenetv3, resnet50v2, style_transfer  # noqa: F401
