"""GPT-2 small (124M) in Keras: a causal language-model pre-training step on synthetic token ids.

Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"
(https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf), as
OpenAI's code (https://github.com/openai/gpt-2/blob/master/src/model.py) and nanoGPT
(https://github.com/karpathy/nanoGPT/blob/master/model.py) define it: learned token and position embeddings,
pre-LayerNorm blocks, a final LayerNorm, and an output projection that is the token embedding itself (one
variable, used as ``x @ E^T``), with nanoGPT's initialisation and optimiser. No dropout. Trainable parameters:
token 50257 x 768 + position 1024 x 768 + 12 blocks x 7,087,872 + final LayerNorm 1,536 = 124,439,808.

The batch is ``(tokens, targets)``, both int32 (B, S): one draw of S + 1 ids per sequence, the targets being the
tokens shifted by one, so every position predicts the next token (nanoGPT's get_batch does the same).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from batchmark.workloads.architectures.gpt2 import BETAS, LEARNING_RATE, WEIGHT_DECAY, GPT2Config
from batchmark.workloads.keras.task import KerasTask
from batchmark.workloads.keras.transformer import TransformerBlock, adamw
from batchmark.workloads.registry import implements


class GPT2(keras.Model):
    def __init__(self, config: GPT2Config):
        super().__init__(name="gpt2")
        self.settings = config
        # nanoGPT: N(0, 0.02) everywhere, and the projections back into the residual stream scaled by
        # 1/sqrt(2 x layers), since each block adds two of them.
        normal = keras.initializers.RandomNormal(0.0, 0.02)
        residual = keras.initializers.RandomNormal(0.0, 0.02 / math.sqrt(2 * config.layers))
        self.token_embedding = layers.Embedding(config.vocabulary, config.width, embeddings_initializer=normal,
                                                name="token_embedding")
        self.position_embedding = layers.Embedding(config.context, config.width, embeddings_initializer=normal,
                                                   name="position_embedding")
        self.blocks = [
            TransformerBlock(config.width, config.heads, config.mlp_width, causal=True, tanh_gelu=True,
                             layer_norm_epsilon=config.epsilon, kernel_initializer=normal,
                             projection_initializer=residual, name=f"block{index}")
            for index in range(config.layers)
        ]
        self.final_norm = layers.LayerNormalization(epsilon=config.epsilon, name="final_norm")

    def build(self, input_shape=(None, None)):  # (B, S) token ids
        self.token_embedding.build(input_shape)
        self.position_embedding.build(input_shape[1:])
        hidden_shape = (*input_shape, self.settings.width)
        for layer in (*self.blocks, self.final_norm):
            layer.build(hidden_shape)

    def call(self, tokens):  # (B, S) int32 -> (B, S, vocabulary) logits
        positions = ops.arange(ops.shape(tokens)[1], dtype="int32")  # (S,): the first S rows of the table
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (B, S, C) + (S, C)
        for block in self.blocks:
            x = block(x)  # (B, S, C)
        x = self.final_norm(x)
        embedding = ops.cast(self.token_embedding.embeddings, x.dtype)  # (V, C), the same variable
        return ops.matmul(x, ops.transpose(embedding))  # (B, S, V)


class LanguageModelTask(KerasTask):
    """Next-token cross-entropy on a fixed batch of random token ids; AdamW with decay on matrices only."""

    def __init__(self, config: GPT2Config):
        self.config = config
        self.model = GPT2(config)
        self.model.build()
        self.networks = {"model": self.model}
        self.optimizers = {"model": adamw(self.model, LEARNING_RATE, WEIGHT_DECAY, beta_1=BETAS[0], beta_2=BETAS[1])}

    def make_batch(self, batch_size, image_size, rng):
        if image_size > self.config.context:
            raise ValueError(f"GPT-2 takes at most {self.config.context} tokens of context, not {image_size}")
        ids = rng.integers(0, self.config.vocabulary, size=(batch_size, image_size + 1), dtype=np.int32)
        return np.ascontiguousarray(ids[:, :-1]), np.ascontiguousarray(ids[:, 1:])  # tokens, targets: (B, S)

    def losses(self, batch):
        tokens, targets = batch
        logits = self.model(tokens, training=True)  # (B, S, V) in the compute dtype
        # Softmax + cross-entropy in float32, as Keras's mixed-precision guide asks of the last layer.
        loss = keras.losses.sparse_categorical_crossentropy(targets, ops.cast(logits, "float32"), from_logits=True)
        return {"model": ops.mean(loss)}


@implements("keras", "gpt2_124m")
def build() -> LanguageModelTask:
    return LanguageModelTask(GPT2Config())
