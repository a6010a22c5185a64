"""What the per-workload tests iterate: every registered workload that trains, a plugin's included.

Importing this registers the test plugin's workloads (tests/plugins/fake_workloads.py), so its tiny_cnn gets the
same parametrized checks as batchmark's own: a workload registered from outside batchmark is tested like any
other. The plugin declares which of its workloads fail on purpose; those never build, so they are left out.
Imports no framework at import: the Keras report (tests/frameworks/keras_report.py) reads it in a TensorFlow or
JAX process.
"""

from __future__ import annotations

import functools

from batchmark.workloads.registry import get_workload, workload_names
from tests.plugins import fake_workloads

# The seed article's five: batchmark ships them, and every implementation family must build each one.
SEED_WORKLOADS = ("resnet50v2_finetune", "mobilenetv3", "densenet121", "cyclegan", "style_transfer")

# Parameters whose gradient is exactly zero by construction, faithfully to the reference model: at 256x256 the
# pix2pix U-Net's innermost downsample meets instance norm on a 1x1 map, whose output is its offset alone (zero
# at init); the first upsample then sees zeros and its ReLU passes no gradient. Per generator, two blocks of a
# 4x4 512->512 convolution and its norm's scale and offset (8,390,656), in PyTorch and Keras alike, as in the
# TensorFlow tutorial. Adam leaves a weight with a zero gradient exactly as it was.
DEAD_PARAMETERS = {"cyclegan": 2 * 2 * (4 * 4 * 512 * 512 + 2 * 512)}


def trained_workloads() -> list[str]:
    return [name for name in workload_names() if name not in fake_workloads.FAILURE_MODES]


def step_sizes(name: str) -> tuple[int, int]:
    """(batch, image size) for a few real steps: the quick profile's, with the batch cut to 2 (enough to give
    BatchNorm more than one value per channel) so that the full-size networks stay cheap on a small CPU."""
    spec = get_workload(name)
    return min(spec.quick_batch_size, 2), spec.quick_image_size


@functools.cache
def torch_flops_per_sample(name: str) -> tuple[float, float]:
    """PyTorch's (forward, training step) FLOPs per sample at step_sizes: the reference the PyTorch and the Keras
    tests both check, counted once a session (CycleGAN's count takes seconds). Imports torch when called."""
    from batchmark.frameworks.torch_flops import count_flops
    from batchmark.workloads.registry import implementation

    return count_flops(implementation("torch", name), step_sizes(name)[1])
