"""ViT-B/16 in MLX, image classification from scratch at 224x224: the twin of ``batchmark.workloads.torch.vit``.

Paper: Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words", https://arxiv.org/abs/2010.11929 (Table 1,
ViT-Base: 12 layers, width 768, MLP 3072, 12 heads); the layout follows timm's ``vit_base_patch16_224``:
a 16x16 stride-16 convolution as the patch embedding, a class token, learned position embeddings for the
196 patches and the class token, pre-LayerNorm blocks (eps 1e-6) with exact GELU, a final LayerNorm and a
linear head on the class token. No dropout. AdamW, weight decay 0.1 on matrices (not on the class token or
position table, as timm's ``no_weight_decay``). 86,567,656 trainable parameters. Channels-last, as MLX is.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.vit import LEARNING_RATE, WEIGHT_DECAY, ViTConfig
from batchmark.workloads.mlx.task import ClassifierTask
from batchmark.workloads.mlx.transformer import Block, adamw_on_matrices
from batchmark.workloads.registry import implements


class ViT(nn.Module):
    def __init__(self, config: ViTConfig):
        super().__init__()
        self.config = config
        self.patch_embedding = nn.Conv2d(3, config.width, kernel_size=config.patch, stride=config.patch)
        self.class_token = mx.zeros((1, 1, config.width))  # bare arrays: trainable parameters of the model
        self.position_embedding = mx.zeros((1, config.patches + 1, config.width))
        self.blocks = [Block(config.width, config.heads, config.mlp_width, causal=False, gelu="none",
                             epsilon=config.epsilon) for _ in range(config.layers)]
        self.norm = nn.LayerNorm(config.width, eps=config.epsilon)
        self.head = nn.Linear(config.width, config.classes)
        self._initialize()

    def _initialize(self) -> None:
        """timm's, as the torch twin sets it: std 0.02 for the position table and Linear weights (torch's
        trunc_normal_ cuts at +-2 absolute, 100 standard deviations: a plain normal), zero Linear biases, a class
        token near zero. The patch convolution keeps torch's default, uniform in +-1/sqrt(fan_in) for the weight
        (MLX's default too) and the bias (MLX's default is zero)."""
        normal = nn.init.normal(std=0.02)
        self.position_embedding = normal(self.position_embedding)
        self.class_token = nn.init.normal(std=1e-6)(self.class_token)
        for _, module in self.named_modules():
            if isinstance(module, nn.Linear):
                module.weight = normal(module.weight)
                module.bias = mx.zeros_like(module.bias)
        bound = (3 * self.config.patch ** 2) ** -0.5
        self.patch_embedding.bias = mx.random.uniform(-bound, bound, self.patch_embedding.bias.shape)

    def __call__(self, images: mx.array) -> mx.array:  # (B, S, S, 3)
        if images.shape[1:3] != (self.config.image_size, self.config.image_size):
            raise ValueError(f"ViT-B/16 is built for {self.config.image_size}x{self.config.image_size} images, "
                             f"got {tuple(images.shape[1:3])}")
        batch, width = images.shape[0], self.config.width
        patches = self.patch_embedding(images).reshape(batch, -1, width)  # (B, 196, width), row by row
        class_token = mx.broadcast_to(self.class_token, (batch, 1, width))  # (B, 1, width)
        x = mx.concatenate([class_token, patches], axis=1) + self.position_embedding  # (B, 197, width)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x[:, 0]))  # (B, classes), from the class token


class VisionTransformerTask(ClassifierTask):
    """The classifier's step (cross-entropy on synthetic images and labels) with ViT's AdamW instead of Adam."""

    def __init__(self, model: ViT, learning_rate: float, weight_decay: float):
        super().__init__(model, num_classes=model.config.classes, learning_rate=learning_rate)
        self.optimizer = adamw_on_matrices(model, learning_rate, weight_decay)


@implements("mlx", "vit_b16")
def build() -> VisionTransformerTask:
    return VisionTransformerTask(ViT(ViTConfig()), learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
