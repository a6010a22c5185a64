import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from batchmark.frameworks.torch_flops import flop_counter_mode


def forward_and_backward(mode_factory, groups):
    conv = torch.nn.Conv2d(240, 240, 5, padding=2, groups=groups, bias=False)
    x = torch.randn(1, 240, 28, 28, requires_grad=True)
    forward_mode, backward_mode = mode_factory(), mode_factory()
    with forward_mode:
        y = conv(x)
    with backward_mode:
        y.sum().backward()
    return forward_mode.get_total_flops(), backward_mode.get_total_flops()


@pytest.mark.parametrize("groups", [1, 8, 240])
def test_backward_of_a_grouped_conv_is_twice_its_forward(groups):
    forward, backward = forward_and_backward(flop_counter_mode, groups)
    assert forward == 2 * 240 * (240 // groups) * 28 * 28 * 25
    assert backward == 2 * forward


def test_the_upstream_counter_still_overcounts_depthwise_backward():
    """If this starts failing, torch fixed its formula and our correction can go."""
    forward, backward = forward_and_backward(lambda: FlopCounterMode(display=False), 240)
    assert backward == (1 + 240) * forward
