"""MLX implementations of the workloads. Importing this package registers them (worker processes only).

Every registered workload has its MLX twin (docs/limitations.md says what was checked where)."""

from batchmark.workloads.mlx import (  # noqa: F401
    cyclegan, densenet121, gpt2, mobilenetv3, resnet50v2, style_transfer, vit)
