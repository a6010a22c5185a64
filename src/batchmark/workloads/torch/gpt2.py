"""GPT-2 small (124M), one causal language-model pre-training step on synthetic token ids.

Paper: Radford et al. 2019, "Language Models are Unsupervised Multitask Learners"; the layout and training
settings follow OpenAI's released model and karpathy/nanoGPT (model.py, train.py): learned position embeddings,
pre-LayerNorm blocks and a final LayerNorm, tanh-GELU, no dropout (nanoGPT's default for pre-training speed
runs), the output projection tied to the token embedding, AdamW (lr 6e-4, betas 0.9/0.95, weight decay 0.1 on
matrices). 124,439,808 trainable parameters; the tied head is the embedding tensor itself, counted once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from batchmark.workloads.architectures.gpt2 import BETAS, LEARNING_RATE, WEIGHT_DECAY, GPT2Config
from batchmark.workloads.registry import implements
from batchmark.workloads.torch.task import Objective, TorchTask, adamw
from batchmark.workloads.torch.transformer import Block, matrices_and_the_rest


class GPT2(nn.Module):
    def __init__(self, config: GPT2Config):
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocabulary, config.width)
        self.position_embedding = nn.Embedding(config.context, config.width)
        self.blocks = nn.ModuleList(Block(config.width, config.heads, config.mlp_width, causal=True, gelu="tanh",
                                          epsilon=config.epsilon) for _ in range(config.layers))
        self.final_norm = nn.LayerNorm(config.width, eps=config.epsilon)
        self.apply(self._initialize)
        # GPT-2's scaled initialization of the projections into the residual stream: std 0.02 / sqrt(2 * layers).
        for block in self.blocks:
            for projection in (block.attention.proj, block.mlp[2]):
                nn.init.normal_(projection.weight, std=0.02 / (2 * config.layers) ** 0.5)

    @staticmethod
    def _initialize(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # (B, S) token ids
        length = tokens.size(1)
        if length > self.config.context:
            raise ValueError(f"a sequence of {length} tokens is longer than the context of {self.config.context}")
        positions = torch.arange(length, device=tokens.device)
        x = self.token_embedding(tokens) + self.position_embedding(positions)  # (B, S, width)
        for block in self.blocks:
            x = block(x)
        # The tied head: logits against the token embedding itself, so one tensor gets both gradients.
        return F.linear(self.final_norm(x), self.token_embedding.weight)  # (B, S, vocabulary)


class LanguageModelTask(TorchTask):
    """Next-token prediction: inputs are a batch's first S tokens, targets the same ids shifted by one."""

    def __init__(self, model: GPT2, learning_rate: float, betas: tuple[float, float], weight_decay: float):
        self.model = model
        self.networks = {"model": model}
        self.optimizer = adamw(matrices_and_the_rest(model, weight_decay), lr=learning_rate, betas=betas)

    def make_batch(self, batch_size, image_size, generator):
        # S + 1 ids per sequence: S inputs, and S targets one to the right.
        ids = torch.randint(0, self.model.config.vocabulary, (batch_size, image_size + 1), generator=generator,
                            device=generator.device)
        return ids[:, :-1].contiguous(), ids[:, 1:].contiguous()  # (B, S) each

    def objectives(self, batch):
        tokens, targets = batch
        logits = self.model(tokens)  # (B, S, vocabulary)
        # Cross-entropy in fp32 under autocast, as the classifiers' is.
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        return [Objective(loss, self.optimizer)]


@implements("torch", "gpt2_124m")
def build() -> LanguageModelTask:
    return LanguageModelTask(GPT2(GPT2Config()), learning_rate=LEARNING_RATE, betas=BETAS,
                             weight_decay=WEIGHT_DECAY)
