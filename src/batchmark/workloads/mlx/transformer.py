"""The pre-LayerNorm transformer block that GPT-2 and ViT-B/16 share, and their AdamW, in MLX: the twin of
``batchmark.workloads.torch.transformer``.

GPT-2 (Radford et al. 2019) moved LayerNorm to each sub-block's input; ViT (Dosovitskiy et al. 2021,
https://arxiv.org/abs/2010.11929) uses the same block. They differ in the mask (causal or none) and GELU's
form (GPT-2's tanh approximation, ViT's exact erf), so both are arguments. Every Linear and LayerNorm has a
bias, as in both reference models, which the parameter counts in the registry include.
"""

from __future__ import annotations

import mlx.core as mx
import mlx.nn as nn
import mlx.optimizers as optim

from batchmark.workloads.mlx.attention import ScaledDotProductAttention


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused QKV projection, as GPT-2's ``c_attn`` and timm's ``qkv``."""

    def __init__(self, width: int, heads: int, causal: bool):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be a multiple of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.attend = ScaledDotProductAttention(causal)  # no parameters; reads the plan's switch when built
        self.proj = nn.Linear(width, width)

    def __call__(self, x: mx.array) -> mx.array:  # (B, S, width)
        batch, length, width = x.shape
        q, k, v = mx.split(self.qkv(x), 3, axis=-1)  # each (B, S, width)
        q, k, v = (t.reshape(batch, length, self.heads, width // self.heads).transpose(0, 2, 1, 3)
                   for t in (q, k, v))  # each (B, heads, S, width / heads)
        out = self.attend(q, k, v)  # (B, heads, S, width / heads)
        return self.proj(out.transpose(0, 2, 1, 3).reshape(batch, length, width))


class Block(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)), the MLP 4x wide."""

    def __init__(self, width: int, heads: int, mlp_width: int, causal: bool, gelu: str, epsilon: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=epsilon)
        self.attention = SelfAttention(width, heads, causal)
        self.norm2 = nn.LayerNorm(width, eps=epsilon)
        # GELU's `approx`: "tanh" (GPT-2) or "none" (exact erf, ViT), the names torch's nn.GELU takes too.
        self.mlp = nn.Sequential(nn.Linear(width, mlp_width), nn.GELU(approx=gelu), nn.Linear(mlp_width, width))

    def __call__(self, x: mx.array) -> mx.array:  # (B, S, width)
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


DECAYED_LAYERS = (nn.Linear, nn.Conv2d, nn.Embedding)


def decayed_weights(model: nn.Module) -> set[str]:
    """The parameter paths AdamW decays: the weight matrices of Linear, convolution and embedding layers; not
    biases, LayerNorm, a class token or a position table held as a bare array. For GPT-2 that is nanoGPT's rule
    (every tensor of 2 or more dimensions, both embeddings included); for ViT it is timm's (whose
    `no_weight_decay` names the class token and position embedding). The PyTorch and Keras twins decay the same."""
    return {f"{name}.weight" for name, module in model.named_modules() if isinstance(module, DECAYED_LAYERS)}


def adamw_on_matrices(model: nn.Module, learning_rate: float, weight_decay: float,
                      betas: tuple[float, float] = (0.9, 0.999)) -> optim.MultiOptimizer:
    """torch.optim.AdamW over two parameter groups, decayed and not.

    MLX's AdamW decays every array it updates and has no exclusion list, so the exclusions are a second AdamW
    with no decay: `MultiOptimizer` sends each gradient, by its parameter path, to the first optimizer whose
    filter takes it (the last takes the rest), as torch's param groups do. Both correct Adam's bias (torch does;
    MLX does not by default) and use torch's eps; decay is decoupled in both (w * (1 - lr * decay)).
    """
    decayed = decayed_weights(model)

    def adamw(decay: float) -> optim.AdamW:
        return optim.AdamW(learning_rate, betas=list(betas), eps=1e-8, weight_decay=decay, bias_correction=True)

    return optim.MultiOptimizer([adamw(weight_decay), adamw(0.0)], filters=[lambda path, _: path in decayed])
