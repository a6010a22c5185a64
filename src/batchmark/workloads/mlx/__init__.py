"""MLX implementations of the workloads. Importing this package registers them (worker processes only).

Style transfer, CycleGAN, GPT-2 small and ViT-B/16 have no MLX twin yet (docs/limitations.md)."""

from batchmark.workloads.mlx import densenet121, mobilenetv3, resnet50v2  # noqa: F401
