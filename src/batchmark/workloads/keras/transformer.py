"""The pre-LayerNorm transformer block GPT-2 and ViT share: x + attention(LN(x)), then x + MLP(LN(x)).

GPT-2 (Radford et al. 2019) moved LayerNorm to the input of each sub-block; ViT (Dosovitskiy et al. 2021) uses
the same block. They differ only in the GELU's form, whether attention is causal, and initialisation, which
the caller passes. Every Dense and LayerNorm has its bias, and there is no dropout (a benchmark step trains
from scratch on synthetic data): 7,087,872 parameters at width 768 with an MLP of 3072.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from batchmark.workloads.keras.attention import SelfAttention


class TransformerBlock(layers.Layer):
    def __init__(self, width: int, heads: int, mlp_width: int, causal: bool, tanh_gelu: bool,
                 layer_norm_epsilon: float, kernel_initializer="glorot_uniform",
                 projection_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.tanh_gelu = tanh_gelu
        self.attention_norm = layers.LayerNormalization(epsilon=layer_norm_epsilon, name="attention_norm")
        self.attention = SelfAttention(width, heads, causal, kernel_initializer=kernel_initializer,
                                       projection_initializer=projection_initializer, name="attention")
        self.mlp_norm = layers.LayerNormalization(epsilon=layer_norm_epsilon, name="mlp_norm")
        self.mlp_in = layers.Dense(mlp_width, kernel_initializer=kernel_initializer, name="mlp_in")
        self.mlp_out = layers.Dense(width, kernel_initializer=projection_initializer, name="mlp_out")

    def build(self, input_shape):  # (B, T, C)
        for layer in (self.attention_norm, self.attention, self.mlp_norm, self.mlp_in):
            layer.build(input_shape)
        self.mlp_out.build((*input_shape[:-1], self.mlp_in.units))

    def call(self, x):  # (B, T, C) -> (B, T, C)
        x = x + self.attention(self.attention_norm(x))
        hidden = ops.gelu(self.mlp_in(self.mlp_norm(x)), approximate=self.tanh_gelu)  # (B, T, mlp_width)
        return x + self.mlp_out(hidden)

    def compute_output_shape(self, input_shape):
        return input_shape


# Variables that weight decay applies to, by the name Keras gives them: Dense and Conv2D kernels, Embedding tables.
DECAYED = ("kernel", "embeddings")


def adamw(model: keras.Model, learning_rate: float, weight_decay: float, **settings) -> keras.optimizers.AdamW:
    """AdamW with `weight_decay` on the weight matrices of Dense, convolution and Embedding layers only; none
    on biases, LayerNorm, ViT's class token or its position table (a bare weight). For GPT-2 that is nanoGPT's
    rule (every tensor of 2 or more dimensions, both embeddings included); for ViT, timm's (its
    ``no_weight_decay`` names the class token and position embedding). The PyTorch twins decay the same tensors."""
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **settings)
    # Must come before the optimizer is built, which the backend does as soon as the task exists.
    optimizer.exclude_from_weight_decay(var_list=[v for v in model.trainable_variables if v.name not in DECAYED])
    return optimizer
