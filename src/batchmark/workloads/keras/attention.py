"""Multi-head self-attention for the Keras transformers, computed as the plan's `attention` switch says.

"fused" is ``keras.ops.dot_product_attention``, the op a Keras user calls today. What it runs depends on the
backend (Keras 3.15): on TensorFlow, two einsums around a float32 softmax, with no fused kernel (TensorFlow
refuses ``flash_attention=True``); on JAX, ``jax.nn.dot_product_attention``, which on a GPU with cuDNN, Ampere or
newer and fp16/bf16 inputs picks cuDNN's flash attention, and XLA's dot-softmax-dot elsewhere. Flash attention
follows Keras's own switch (on where the device allows unless ``keras.config.disable_flash_attention()``), which
matters on a GPU only and which batchmark never forces. "math" is the formula as a paper writes it,
softmax(QK^T / sqrt(d) + causal mask) V, as separate matmuls, with the softmax in float32 under mixed precision.

The switch reaches a model through ``batchmark.workloads.attention``, shared with the PyTorch models: each
attention layer reads the choice once, when it is built.
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from batchmark.workloads.attention import current_attention

def math_attention(query, key, value, causal: bool):
    """softmax(QK^T / sqrt(d) + mask) V as separate ops: (B, T, N, H) each -> (B, T, N, H)."""
    query = ops.transpose(query, (0, 2, 1, 3))  # (B, N, T, H)
    key = ops.transpose(key, (0, 2, 3, 1))  # (B, N, H, T)
    value = ops.transpose(value, (0, 2, 1, 3))  # (B, N, T, H)
    # Logits and softmax in float32 whatever the compute dtype, as Keras's own op does: a float16 exp overflows.
    logits = ops.cast(ops.matmul(query, key), "float32") / math.sqrt(query.shape[-1])  # (B, N, T, T)
    if causal:
        positions = ops.arange(ops.shape(logits)[-1])
        sees = positions[:, None] >= positions[None, :]  # (T, T): query t sees keys 0..t
        logits = ops.where(sees, logits, float("-inf"))  # the diagonal is always seen, so no row is all -inf
    probabilities = ops.cast(ops.softmax(logits, axis=-1), value.dtype)
    return ops.transpose(ops.matmul(probabilities, value), (0, 2, 1, 3))  # (B, T, N, H)


def attend(query, key, value, causal: bool, implementation: str):
    """Scaled dot-product attention by `implementation`: (B, T, N, H) each -> (B, T, N, H)."""
    if implementation == "math":
        return math_attention(query, key, value, causal)
    return ops.dot_product_attention(query, key, value, is_causal=causal,
                                     flash_attention=keras.config.is_flash_attention_enabled())


class SelfAttention(layers.Layer):
    """Multi-head self-attention with one fused QKV Dense (width -> 3 x width), as GPT-2's ``c_attn`` and timm's
    ``qkv``, then an output Dense.

    Same parameters as ``keras.layers.MultiHeadAttention`` (separate Q, K, V projections with biases), but
    that layer computes attention inside itself, where the plan's switch cannot reach.
    """

    def __init__(self, width: int, heads: int, causal: bool, kernel_initializer="glorot_uniform",
                 projection_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if width % heads:
            raise ValueError(f"width {width} does not split into {heads} heads: make it a multiple of the heads")
        self.width, self.heads, self.causal = width, heads, causal
        self.implementation = current_attention()  # fixed at build time, so every trace of the step uses it
        self.qkv = layers.Dense(3 * width, kernel_initializer=kernel_initializer, name="qkv")
        self.projection = layers.Dense(width, kernel_initializer=projection_initializer, name="projection")

    def build(self, input_shape):  # (B, T, C)
        self.qkv.build(input_shape)
        self.projection.build(input_shape)

    def call(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        qkv = ops.reshape(self.qkv(x), (batch, length, 3, self.heads, self.width // self.heads))  # (B, T, 3, N, H)
        query, key, value = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]  # (B, T, N, H) each
        attended = attend(query, key, value, self.causal, self.implementation)  # (B, T, N, H)
        return self.projection(ops.reshape(attended, (batch, length, self.width)))  # (B, T, C)

    def compute_output_shape(self, input_shape):
        return input_shape
