"""FLOPs of one training step with torch.utils.flop_counter, with its grouped-convolution bug fixed.

Convention: 2 FLOPs per multiply-accumulate of matmul, convolution and attention ops (the counter's),
forward and backward; elementwise ops, normalisation and the optimizer are not counted. Attention is counted
in full (S x S scores) even when causal, as the counter and the usual MFU formula (PaLM's 6N + 12 L H Q T) do.

In torch 2.13 the counter's `convolution_backward` formula ignores `groups` in the weight-gradient term,
so a depthwise conv's backward is counted (1 + groups) times its forward instead of 2 times. For
MobileNetV3Large at 224 that inflates the training FLOPs 9x (11.8 instead of 1.29 GFLOP per image).
We count the weight gradient as the counter does and divide it by `groups`.
"""

from __future__ import annotations

import gc
import hashlib
import json

from pathlib import Path

import platformdirs
import torch
from torch.utils import flop_counter
from torch.utils.flop_counter import FlopCounterMode

from batchmark.files import write_atomically
from batchmark.workloads.torch.task import backward

aten = torch.ops.aten
COUNT_BATCH = 2  # >1 so that BatchNorm in training mode accepts 1x1 feature maps


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
                        output_padding, groups, output_mask, out_shape, **kwargs) -> int:
    def counted(mask):
        return flop_counter.conv_backward_flop.__wrapped__(
            grad_out_shape, x_shape, w_shape, bias, stride, padding, dilation, transposed,
            output_padding, groups, mask, out_shape)

    grad_input = counted([output_mask[0], False, False])
    grad_weight = counted([False, output_mask[1], False]) // groups
    return grad_input + grad_weight


# torch 2.13 counts the CUDA kernels of scaled_dot_product_attention but not the CPU's flash kernel, which
# F.scaled_dot_product_attention dispatches to on a CPU: attention would count zero. And it counts a fused kernel's
# backward as the kernel runs it, recomputing the scores (5 products, not 4): hardware FLOPs. MFU counts the
# model's FLOPs, rematerialization excluded (PaLM, appendix B), and so do the plain math path, TensorFlow and JAX:
# every attention backward here is twice its forward, so that the implementation a plan picks never changes a
# row's FLOPs.
def _attention_flop(query_shape, key_shape, value_shape, *args, out_shape=None, **kwargs) -> int:
    return flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


def _attention_backward_flop(grad_out_shape, query_shape, key_shape, value_shape, *args, out_shape=None,
                             **kwargs) -> int:
    return 2 * flop_counter.sdpa_flop_count(query_shape, key_shape, value_shape)


ATTENTION_BACKWARDS = (aten._scaled_dot_product_flash_attention_for_cpu_backward,
                       aten._scaled_dot_product_flash_attention_backward,
                       aten._scaled_dot_product_efficient_attention_backward,
                       aten._scaled_dot_product_cudnn_attention_backward)


def flop_counter_mode() -> FlopCounterMode:
    return FlopCounterMode(display=False, custom_mapping={
        aten.convolution_backward: _conv_backward_flop,
        aten._scaled_dot_product_flash_attention_for_cpu: _attention_flop,
        **{backward: _attention_backward_flop for backward in ATTENTION_BACKWARDS},
    })


def count_flops(factory, image_size: int) -> tuple[float, float]:
    """(forward, forward+backward) FLOPs per sample of one training step, eager fp32 on the CPU.

    Counted on a fresh task and a small batch: FLOPs do not depend on the plan, and counting under a
    compiled or autocast step would count the compiler's work, not the model's.
    """
    task = factory()
    task.set_modes()
    batch = task.make_batch(COUNT_BATCH, image_size, torch.Generator().manual_seed(0))
    forward_counter, backward_counter = flop_counter_mode(), flop_counter_mode()
    with forward_counter:
        objectives = task.objectives(batch)
    with backward_counter:
        backward(objectives)
    forward = forward_counter.get_total_flops()
    total = forward + backward_counter.get_total_flops()
    del task, batch, objectives
    gc.collect()
    return forward / COUNT_BATCH, total / COUNT_BATCH


def architecture_key(task, image_size: int) -> str:
    """Changes whenever the counted FLOPs could: the networks' parameter and buffer shapes, the image size,
    torch's version (its counter) and this file (our correction)."""
    digest = hashlib.sha256()
    for name, network in sorted(task.networks.items()):
        for tensor_name, tensor in (*network.named_parameters(), *network.named_buffers()):
            digest.update(f"{name}.{tensor_name}:{tuple(tensor.shape)}:{tensor.requires_grad};".encode())
    digest.update(f"{type(task).__qualname__}|{image_size}|{torch.__version__}".encode())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def cached_flops_per_sample(factory, task, image_size: int) -> tuple[float, float]:
    """count_flops, remembered per architecture: counting costs a full training step (seconds for CycleGAN)."""
    cache = platformdirs.user_cache_path("batchmark") / "flops.json"
    key = architecture_key(task, image_size)
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if key in known:
        return tuple(known[key])
    counted = count_flops(factory, image_size)
    known[key] = counted
    write_atomically(cache, json.dumps(known))  # two workers writing at once: the last complete file wins
    return counted
