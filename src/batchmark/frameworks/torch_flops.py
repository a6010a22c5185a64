"""FLOPs of one training step with torch.utils.flop_counter, with its grouped-convolution bug fixed.

Convention: 2 FLOPs per multiply-accumulate of matmul, convolution and attention ops (the counter's),
forward and backward; elementwise ops, normalisation and the optimizer are not counted.

In torch 2.13 the counter's `convolution_backward` formula ignores `groups` in the weight-gradient term,
so a depthwise conv's backward is counted (1 + groups) times its forward instead of 2 times. For
MobileNetV3Large at 224 that inflates the training FLOPs 9x (11.8 instead of 1.29 GFLOP per image).
We count the weight gradient as the counter does and divide it by `groups`.
"""

from __future__ import annotations

import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

aten = torch.ops.aten


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                        output_padding, groups, output_mask, out_shape, **kwargs) -> int:
    def counted(mask):
        return flop_counter.conv_backward_flop.__wrapped__(
            grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
            output_padding, groups, mask, out_shape)

    grad_input = counted([output_mask[0], False, False])
    grad_weight = counted([False, output_mask[1], False]) // groups
    return grad_input + grad_weight


def flop_counter_mode() -> FlopCounterMode:
    return FlopCounterMode(display=False, custom_mapping={aten.convolution_backward: _conv_backward_flop})
