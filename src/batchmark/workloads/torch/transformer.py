"""The pre-LayerNorm transformer block that GPT-2 and ViT-B/16 share.

GPT-2 (Radford et al. 2019) moved LayerNorm to each sub-block's input; ViT (Dosovitskiy et al. 2021,
https://arxiv.org/abs/2010.11929) uses the same block. They differ in the mask (causal or none) and GELU's
form (GPT-2's tanh approximation, ViT's exact erf), so both are arguments. Every Linear and LayerNorm has a
bias, as in both reference models, which the parameter counts in the registry include.
"""

from __future__ import annotations

from torch import nn
import torch

from batchmark.workloads.attention import current_attention
from batchmark.workloads.torch.attention import attend


class SelfAttention(nn.Module):
    """Multi-head self-attention with one fused QKV projection, as GPT-2's ``c_attn`` and timm's ``qkv``."""

    def __init__(self, width: int, heads: int, causal: bool):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be a multiple of heads {heads}")
        self.heads = heads
        self.causal = causal
        self.implementation = current_attention()  # the plan's switch, fixed when the model is built
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, S, width)
        batch, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=-1)  # each (B, S, width)
        q, k, v = (t.view(batch, length, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        out = attend(q, k, v, self.causal, self.implementation)  # (B, heads, S, width / heads)
        return self.proj(out.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    """x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x)), the MLP 4x wide."""

    def __init__(self, width: int, heads: int, mlp_width: int, causal: bool, gelu: str, epsilon: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=epsilon)
        self.attention = SelfAttention(width, heads, causal)
        self.norm2 = nn.LayerNorm(width, eps=epsilon)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_width), nn.GELU(approximate=gelu), nn.Linear(mlp_width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, S, width)
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


DECAYED_MODULES = (nn.Linear, nn.Conv2d, nn.Embedding)


def matrices_and_the_rest(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: weight decay on the weight matrices of Linear, convolution and embedding layers,
    none on biases, LayerNorm, a class token or a position table held as a bare parameter. For GPT-2 that is
    nanoGPT's rule (every tensor of 2 or more dimensions, both embeddings included); for ViT it is timm's (whose
    `no_weight_decay` names the class token and position embedding)."""
    decayed = {id(module.weight) for module in model.modules() if isinstance(module, DECAYED_MODULES)}
    trained = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in trained if id(p) in decayed], "weight_decay": weight_decay},
            {"params": [p for p in trained if id(p) not in decayed], "weight_decay": 0.0}]
