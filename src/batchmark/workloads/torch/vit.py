"""ViT-B/16, image classification from scratch at 224x224.

Paper: Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words", https://arxiv.org/abs/2010.11929 (Table 1,
ViT-Base: 12 layers, width 768, MLP 3072, 12 heads); the layout follows timm's ``vit_base_patch16_224``:
a 16x16 stride-16 convolution as the patch embedding, a class token, learned position embeddings for the
196 patches and the class token, pre-LayerNorm blocks (eps 1e-6) with exact GELU, a final LayerNorm and a
linear head on the class token. No dropout. AdamW, weight decay 0.1 on matrices (not on the class token or
position table, as timm's ``no_weight_decay``). 86,567,656 trainable parameters.
"""

from __future__ import annotations

import torch
from torch import nn

from batchmark.workloads.architectures.vit import LEARNING_RATE, WEIGHT_DECAY, ViTConfig
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.task import ClassifierTask, adamw
from batchmark.workloads.torch.transformer import Block, matrices_and_the_rest


class ViT(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        self.patch_embedding = nn.Conv2d(3, config.width, kernel_size=config.patch, stride=config.patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, config.width))
        self.position_embedding = nn.Parameter(torch.empty(1, config.patches + 1, config.width))
        self.blocks = nn.ModuleList(Block(config.width, config.heads, config.mlp_width, causal=False, gelu="none",
                                          epsilon=config.epsilon) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width, eps=config.epsilon)
        self.head = nn.Linear(config.width, config.classes)
        # timm's initialization: truncated normal std 0.02 for the tables and Linear weights, small class token.
        nn.init.trunc_normal_(self.position_embedding, std=0.02)
        nn.init.normal_(self.class_token, std=1e-6)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)

    def forward(self, images: torch.Tensor) -> torch.Tensor:  # (B, 3, S, S)
        if images.shape[-1] != self.config.image_size or images.shape[-2] != self.config.image_size:
            raise ValueError(f"ViT-B/16 is built for {self.config.image_size}x{self.config.image_size} images, "
                             f"got {tuple(images.shape[-2:])}")
        patches = self.patch_embedding(images).flatten(2).transpose(1, 2)  # (B, 196, width)
        class_token = self.class_token.expand(images.size(0), -1, -1)  # (B, 1, width)
        x = torch.cat([class_token, patches], dim=1) + self.position_embedding  # (B, 197, width)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))  # (B, classes), from the class token


@implements("torch", "vit_b16")
def build() -> ClassifierTask:
    model = ViT(ViTConfig())
    return ClassifierTask(model, num_classes=model.config.classes,
                          optimizer=adamw(matrices_and_the_rest(model, weight_decay=WEIGHT_DECAY), lr=LEARNING_RATE))
