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


def attention_flops(mode_factory, implementation):
    from batchmark.workloads.torch.attention import attend

    q, k, v = (torch.randn(2, 4, 64, 16, requires_grad=True) for _ in range(3))
    forward_mode, backward_mode = mode_factory(), mode_factory()
    with forward_mode:
        out = attend(q, k, v, causal=True, implementation=implementation)
    with backward_mode:
        out.sum().backward()
    return forward_mode.get_total_flops(), backward_mode.get_total_flops()


def test_the_cpu_fused_attention_kernel_counts_as_its_matrix_products():
    """F.scaled_dot_product_attention on a CPU runs a kernel torch's counter does not know: without our formula a
    transformer's attention would count zero. Two products of (S x d) by (d x S) and (S x S) by (S x d) per head,
    forward, twice that backward; the math implementation's matmuls count the same."""
    fused_forward, fused_backward = attention_flops(flop_counter_mode, "fused")
    math_forward, math_backward = attention_flops(flop_counter_mode, "math")
    assert fused_forward == math_forward == 2 * (2 * 2 * 4 * 64 * 64 * 16)
    # Model FLOPs, as MFU counts them: the fused kernel's recomputed scores are not the model's work.
    assert fused_backward == math_backward == 2 * fused_forward


def test_the_upstream_counter_still_misses_the_cpu_attention_kernel():
    """If this starts failing, torch counts its CPU flash kernel itself and our formula can go."""
    assert attention_flops(lambda: FlopCounterMode(display=False), "fused") == (0, 0)
