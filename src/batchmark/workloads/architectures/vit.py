"""ViT-B/16: Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words", https://arxiv.org/abs/2010.11929 (Table 1,
ViT-Base), with the layout of timm's ``vit_base_patch16_224``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ViTConfig:
    image_size: int = 224  # the position table has one entry per patch of this image, so the size is fixed
    patch: int = 16
    layers: int = 12
    heads: int = 12
    width: int = 768
    mlp_width: int = 3072  # 4x width
    classes: int = 1000  # ImageNet-1k
    epsilon: float = 1e-6  # LayerNorm epsilon of the paper's JAX code and timm's

    @property
    def patches(self) -> int:
        return (self.image_size // self.patch) ** 2


# AdamW, weight decay on the matrices only (timm's `no_weight_decay`: not the class token or position table);
# betas are AdamW's defaults.
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 0.1
