"""ViT-B/16 in Keras: image classification from scratch with a Vision Transformer.

Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words" (https://arxiv.org/abs/2010.11929), as timm's
``vit_base_patch16_224`` builds it (https://github.com/huggingface/pytorch-image-models, vision_transformer.py):
16x16 patches embedded by a strided convolution with bias, a class token, learned position embeddings for the
class token and the 196 patches, 12 pre-LayerNorm blocks with exact (erf) GELU, a final LayerNorm and a linear
head on the class token. No dropout. Trainable parameters: patch 3*16*16*768 + 768, class token 768, positions
197 x 768, 12 blocks x 7,087,872, final LayerNorm 1,536, head 769,000 = 86,567,656. Images are NHWC.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from batchmark.workloads.architectures.vit import LEARNING_RATE, WEIGHT_DECAY, ViTConfig
from batchmark.workloads.keras.task import ClassifierTask
from batchmark.workloads.keras.transformer import TransformerBlock, adamw
from batchmark.workloads.registry import implements


class ClassTokenAndPositions(layers.Layer):
    """Prepends the learned class token to the patch embeddings and adds the learned position embeddings."""

    def __init__(self, tokens: int, width: int, **kwargs):
        super().__init__(**kwargs)
        self.tokens, self.width = tokens, width

    def build(self, input_shape):  # (B, P, C)
        # timm: the class token starts near zero (N(0, 1e-6)), positions as N(0, 0.02) truncated at 2 sigma.
        self.class_token = self.add_weight((1, 1, self.width), keras.initializers.RandomNormal(0.0, 1e-6),
                                           name="class_token")
        self.positions = self.add_weight((1, self.tokens, self.width), keras.initializers.TruncatedNormal(0.0, 0.02),
                                         name="position_embedding")

    def call(self, patches):  # (B, P, C) -> (B, 1 + P, C)
        batch = ops.shape(patches)[0]
        class_token = ops.broadcast_to(ops.cast(self.class_token, patches.dtype), (batch, 1, self.width))
        return ops.concatenate([class_token, patches], axis=1) + ops.cast(self.positions, patches.dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.tokens, self.width)


def vision_transformer(config: ViTConfig) -> keras.Model:
    dense_init = keras.initializers.TruncatedNormal(0.0, 0.02)  # timm's for every Linear
    images = keras.Input((config.image_size, config.image_size, 3), name="images")  # (B, 224, 224, 3)
    x = layers.Conv2D(config.width, config.patch, strides=config.patch, name="patch_embedding")(images)
    x = layers.Reshape((config.patches, config.width), name="patches")(x)  # (B, 14, 14, C) -> (B, 196, C)
    x = ClassTokenAndPositions(config.patches + 1, config.width, name="tokens")(x)  # (B, 197, C)
    for index in range(config.layers):
        x = TransformerBlock(config.width, config.heads, config.mlp_width, causal=False, tanh_gelu=False,
                             layer_norm_epsilon=config.epsilon, kernel_initializer=dense_init,
                             projection_initializer=dense_init, name=f"block{index}")(x)
    x = layers.LayerNormalization(epsilon=config.epsilon, name="final_norm")(x)
    class_features = x[:, 0]  # (B, C): the class token alone goes to the head
    logits = layers.Dense(config.classes, kernel_initializer=dense_init, name="head")(class_features)  # (B, 1000)
    return keras.Model(images, logits, name="vit_b16")


class VisionTransformerTask(ClassifierTask):
    """Cross-entropy on random images and labels, AdamW with weight decay on matrices only."""

    def __init__(self, config: ViTConfig):
        model = vision_transformer(config)
        super().__init__(model, num_classes=config.classes)
        self.optimizers = {"model": adamw(model, LEARNING_RATE, WEIGHT_DECAY)}


@implements("keras", "vit_b16")
def build() -> VisionTransformerTask:
    return VisionTransformerTask(ViTConfig())
