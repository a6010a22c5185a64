"""GPT-2 small (124M) in MLX, one causal language-model pre-training step on synthetic token ids: the twin of
``batchmark.workloads.torch.gpt2``.

Paper: Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"; the layout and training
settings follow OpenAI's released model and karpathy/nanoGPT (model.py, train.py): learned position embeddings,
pre-LayerNorm blocks and a final LayerNorm, tanh-GELU, no dropout, the output projection tied to the token
embedding (``Embedding.as_linear``, as mlx-lm's GPT-2 ties it), AdamW (lr 6e-4, betas 0.9/0.95, weight
decay 0.1 on matrices). 124,439,808 trainable parameters; the tied head is the embedding array itself, counted once.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn

from batchmark.workloads.architectures.gpt2 import BETAS, LEARNING_RATE, WEIGHT_DECAY, GPT2Config
from batchmark.workloads.mlx.transformer import Block, adamw_on_matrices
from batchmark.workloads.registry import implements


class GPT2(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocabulary, config.width)
        self.position_embedding = nn.Embedding(config.context, config.width)
        self.blocks = [Block(config.width, config.heads, config.mlp_width, causal=True, gelu="tanh",
                             epsilon=config.epsilon) for _ in range(config.layers)]
        self.final_norm = nn.LayerNorm(config.width, eps=config.epsilon)
        self._initialize()

    def _initialize(self) -> None:
        """GPT-2's: N(0, 0.02) for Linear and embedding weights, zero biases, and N(0, 0.02 / sqrt(2 * layers))
        for the projections into the residual stream."""
        normal = nn.init.normal(std=0.02)
        for _, module in self.named_modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight = normal(module.weight)
            if isinstance(module, nn.Linear):
                module.bias = mx.zeros_like(module.bias)
        residual = nn.init.normal(std=0.02 / (2 * self.config.layers) ** 0.5)
        for block in self.blocks:
            for projection in (block.attention.proj, block.mlp.layers[2]):
                projection.weight = residual(projection.weight)

    def __call__(self, tokens: mx.array) -> mx.array:  # (B, S) token ids
        length = tokens.shape[1]
        if length > self.config.context:
            raise ValueError(f"a sequence of {length} tokens is longer than the context of {self.config.context}")
        x = self.token_embedding(tokens) + self.position_embedding(mx.arange(length))  # (B, S, width)
        for block in self.blocks:
            x = block(x)
        # The tied head: logits against the token embedding itself, so one array gets both gradients.
        return self.token_embedding.as_linear(self.final_norm(x))  # (B, S, vocabulary)


class LanguageModelTask:
    """Next-token prediction: inputs are a batch's first S tokens, targets the same ids shifted by one."""

    def __init__(self, model: GPT2, learning_rate: float, betas: tuple[float, float], weight_decay: float):
        self.model = model
        self.optimizer = adamw_on_matrices(model, learning_rate, weight_decay, betas)

    def make_batch(self, batch_size: int, image_size: int, seed: int) -> tuple[mx.array, mx.array]:
        # S + 1 ids per sequence: S inputs, and S targets one to the right.
        ids = mx.random.randint(0, self.model.config.vocabulary, (batch_size, image_size + 1),
                                key=mx.random.key(seed))  # (B, S + 1) int32
        return ids[:, :-1], ids[:, 1:]  # (B, S) each

    def set_modes(self) -> None:
        self.model.train()

    def loss(self, model: GPT2, tokens: mx.array, targets: mx.array) -> mx.array:
        logits = model(tokens)  # (B, S, vocabulary)
        # Cross-entropy in fp32 whatever the plan's precision, as the torch and Keras twins compute it.
        return nn.losses.cross_entropy(logits.astype(mx.float32), targets, reduction="mean")


@implements("mlx", "gpt2_124m")
def build() -> LanguageModelTask:
    return LanguageModelTask(GPT2(GPT2Config()), learning_rate=LEARNING_RATE, betas=BETAS,
                             weight_decay=WEIGHT_DECAY)
