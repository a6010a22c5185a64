"""GPT-2 small (124M): Radford et al. 2019, "Language Models are Unsupervised Multitask Learners", with the
layout of OpenAI's released model and the training settings of karpathy/nanoGPT (model.py, train.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GPT2Config:
    vocabulary: int = 50_257  # GPT-2's BPE vocabulary (50,000 merges + 256 bytes + end-of-text)
    context: int = 1024  # positions in the learned table: the longest sequence the model takes
    layers: int = 12
    heads: int = 12
    width: int = 768
    mlp_width: int = 3072  # 4x width, as in the paper
    epsilon: float = 1e-5  # LayerNorm epsilon of the released model (PyTorch's default, not Keras's 1e-3)


# nanoGPT's AdamW for GPT-2 small: weight decay on the matrices only (every tensor of 2 or more dimensions).
LEARNING_RATE = 6e-4
BETAS = (0.9, 0.95)
WEIGHT_DECAY = 0.1
