"""Small layers shared by the PyTorch workloads.

``InstanceNorm`` is the ``InstanceNormalization`` layer of tensorflow_examples' pix2pix
(https://github.com/tensorflow/examples/blob/master/tensorflow_examples/models/pix2pix/pix2pix.py), after
Ulyanov et al. 2016 (https://arxiv.org/abs/1607.08022).
"""

from __future__ import annotations

import torch
from torch import nn


class InstanceNorm(nn.Module):
    """Normalise each sample's channel over H and W, then a learnable per-channel scale and offset.

    Unlike ``torch.nn.InstanceNorm2d`` it accepts 1x1 maps (the pix2pix U-Net bottleneck at 256x256), where the
    variance is 0 and the output is just ``offset``, exactly as in the TensorFlow layer.
    """

    def __init__(self, channels: int, epsilon: float = 1e-5):
        super().__init__()
        self.epsilon = epsilon
        # The TensorFlow layer's initialisers: scale ~ N(1, 0.02), offset zeros.
        self.scale = nn.Parameter(torch.empty(channels).normal_(1.0, 0.02))
        self.offset = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W)
        # Statistics in float32: a bf16 variance over a 128x128 map loses most of its digits under autocast.
        x32 = x.float()
        variance, mean = torch.var_mean(x32, dim=(2, 3), correction=0, keepdim=True)  # (B, C, 1, 1) each
        normalized = (x32 - mean) * torch.rsqrt(variance + self.epsilon)
        out = normalized * self.scale.view(1, -1, 1, 1) + self.offset.view(1, -1, 1, 1)
        return out.to(x.dtype)  # back to the autocast dtype, so the next convolution sees what it would anyway

    def extra_repr(self) -> str:
        return f"{self.scale.numel()}, epsilon={self.epsilon}"
