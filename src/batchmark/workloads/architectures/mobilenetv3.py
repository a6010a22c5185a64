"""MobileNetV3-Large (Howard et al. 2019, "Searching for MobileNetV3", https://arxiv.org/abs/1905.02244) as
``keras.applications.MobileNetV3Large`` lays it out (alpha 1.0, non-minimalistic: 5x5 kernels, squeeze-excite,
hard-swish): the block table, the channel rounding and Keras's BatchNorm settings.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

# Keras BatchNormalization(epsilon=1e-3, momentum=0.999). Keras's momentum weights the old running statistic,
# PyTorch's and MLX's the new batch statistic: theirs is 1 - 0.999.
BN_EPS = 1e-3
BN_MOMENTUM = 1.0 - 0.999
SE_RATIO = 0.25  # squeeze-and-excite bottleneck width, relative to the expanded channels
STEM_CHANNELS = 16  # Keras does not scale the stem with alpha
LAST_POINT_CHANNELS = 1280  # width of the 1x1 conv before the logits (Large)
DROPOUT = 0.2  # Keras's default dropout_rate, before the logits


class Block(NamedTuple):
    """One inverted residual block: expand 1x1, depthwise k x k, optional squeeze-excite, project 1x1."""

    expansion: float  # expanded channels = depth(input channels * expansion)
    filters: int  # output channels
    kernel: int  # depthwise kernel size
    stride: int
    squeeze_excite: bool
    activation: Literal["relu", "hardswish"]  # each framework maps the name to its own function


# The Large stack; output resolution at a 224 input in the comments.
LARGE_BLOCKS = (
    Block(1, 16, 3, 1, False, "relu"),  # 112
    Block(4, 24, 3, 2, False, "relu"),  # 56
    Block(3, 24, 3, 1, False, "relu"),
    Block(3, 40, 5, 2, True, "relu"),  # 28
    Block(3, 40, 5, 1, True, "relu"),
    Block(3, 40, 5, 1, True, "relu"),
    Block(6, 80, 3, 2, False, "hardswish"),  # 14
    Block(2.5, 80, 3, 1, False, "hardswish"),
    Block(2.3, 80, 3, 1, False, "hardswish"),
    Block(2.3, 80, 3, 1, False, "hardswish"),
    Block(6, 112, 3, 1, True, "hardswish"),
    Block(6, 112, 3, 1, True, "hardswish"),
    Block(6, 160, 5, 2, True, "hardswish"),  # 7
    Block(6, 160, 5, 1, True, "hardswish"),
    Block(6, 160, 5, 1, True, "hardswish"),
)


def depth(value: float, divisor: int = 8) -> int:
    """Round a channel count to the nearest multiple of 8, never more than 10% below `value` (TF slim rule)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded
