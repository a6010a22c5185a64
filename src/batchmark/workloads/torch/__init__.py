"""PyTorch implementations of the workloads. Importing this package registers them (worker processes only)."""

from batchmark.workloads.torch import (  # noqa: F401
    cyclegan, densenet121, gpt2, mobilenetv3, resnet50v2, style_transfer, vit,
)
