"""Every registered workload in PyTorch: its parameter count, real training steps, and FLOPs.

Parametrized over the registry, the test plugin's tiny_cnn included (tests/workloads/registered.py), so a new
workload gets these checks when it is registered. PyTorch is the reference: a spec's trainable_parameters are
PyTorch's count, and tests/frameworks/test_keras_parity.py holds the Keras twins to the same spec.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import pytest
import torch

from batchmark.frameworks.torch_backend import TorchDevice, TorchSession
from batchmark.frameworks.torch_flops import count_flops
from batchmark.plans import Plan
from batchmark.workloads.registry import families_implementing, get_workload, implementation, load_families
from tests.workloads.registered import (DEAD_PARAMETERS, SEED_WORKLOADS, step_sizes, torch_flops_per_sample,
                                        trained_workloads)

load_families(("torch",))
TORCH_WORKLOADS = [name for name in trained_workloads() if "torch" in families_implementing(name)]
each_workload = pytest.mark.parametrize("name", TORCH_WORKLOADS)
# DEAD_PARAMETERS by name in the PyTorch twins.
ZERO_GRADIENT = {
    "cyclegan": {f"{generator}.{block}.{parameter}"
                 for generator in ("generator_g", "generator_f")
                 for block in ("down_stack.7", "up_stack.0")
                 for parameter in ("conv.weight", "norm.scale", "norm.offset")},
}
STEPS = 5


def build(name: str):
    torch.manual_seed(0)
    task = implementation("torch", name)()
    task.set_modes()
    batch_size, image_size = step_sizes(name)
    batch = task.make_batch(batch_size, image_size, torch.Generator().manual_seed(0))
    return task, TorchSession(task, Plan(), TorchDevice("cpu"), batch)


@dataclass(frozen=True)
class FirstStep:
    """What the first training step did to one parameter."""

    trainable: bool
    gradient: str | None  # None when it got none, else "zero", "nonzero" or "not finite"
    changed: bool
    size: int


def gradient_kind(gradient: torch.Tensor | None) -> str | None:
    if gradient is None:
        return None
    if not torch.isfinite(gradient).all():
        return "not finite"
    return "nonzero" if gradient.any() else "zero"


@functools.cache
def five_steps(name: str) -> tuple[dict[str, FirstStep], list[float]]:
    """Every parameter ("network.parameter") after the first step, and the losses of five steps on one batch.

    Cached because two tests read it and CycleGAN's steps are the slowest thing in this file."""
    task, session = build(name)
    parameters = {f"{network}.{key}": parameter for network, module in task.networks.items()
                  for key, parameter in module.named_parameters()}
    before = {key: parameter.detach().clone() for key, parameter in parameters.items()}
    losses = [session.read_loss(session.step())]
    first = {key: FirstStep(parameter.requires_grad, gradient_kind(parameter.grad),
                            not torch.equal(parameter, before[key]), parameter.numel())
             for key, parameter in parameters.items()}
    losses += [session.read_loss(session.step()) for _ in range(STEPS - 1)]
    return first, losses


def test_every_workload_that_trains_is_checked_here_a_plugins_included():
    assert TORCH_WORKLOADS == trained_workloads()  # spec counts are PyTorch's: every workload needs a twin here
    assert {*SEED_WORKLOADS, "tiny_cnn"} <= set(TORCH_WORKLOADS)


@each_workload
def test_trainable_parameters_equal_the_spec(name):
    task = implementation("torch", name)()
    counted = sum(p.numel() for module in task.networks.values() for p in module.parameters() if p.requires_grad)
    assert counted == get_workload(name).trainable_parameters


def test_resnet50v2_without_top_matches_keras():
    from batchmark.workloads.torch.resnet50v2 import ResNet50V2

    backbone = ResNet50V2(num_classes=None)
    assert sum(p.numel() for p in backbone.parameters()) == 23_519_360
    moving_statistics = sum(b.numel() for name, b in backbone.named_buffers() if "running" in name)
    assert sum(p.numel() for p in backbone.parameters()) + moving_statistics == 23_564_800


@each_workload
def test_a_step_trains_every_trainable_parameter_and_only_those(name):
    first, losses = five_steps(name)
    assert math.isfinite(losses[0])
    zero = {key for key, step in first.items() if step.gradient == "zero"}
    assert zero == ZERO_GRADIENT.get(name, set())
    assert sum(first[key].size for key in zero) == DEAD_PARAMETERS.get(name, 0)
    for key, step in first.items():
        if not step.trainable:
            assert step.gradient is None and not step.changed, f"{key} is frozen but {step}"
        elif key not in zero:
            assert step.gradient == "nonzero" and step.changed, f"{key} was not trained: {step}"


@each_workload
def test_loss_goes_down_on_a_fixed_batch(name):
    _, losses = five_steps(name)
    assert all(map(math.isfinite, losses)), losses
    # Adam's first steps may overshoot (style transfer's loss spikes at step 1, as in Johnson et al.),
    # so ask for any later loss below the first rather than a monotone fall.
    assert min(losses[2:]) < losses[0], losses


def test_finetune_keeps_batchnorm_in_inference_mode():
    task, session = build("resnet50v2_finetune")
    statistics = {name: b.clone() for name, b in task.model.named_buffers()}
    session.step()
    for name, buffer in task.model.named_buffers():
        assert torch.equal(buffer, statistics[name]), f"{name} changed: BatchNorm is not frozen"
    gammas = [m.weight for m in task.model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert gammas and all(g.requires_grad and g.grad is not None for g in gammas)


def test_densenet_batchnorm_trains():
    task, session = build("densenet121")
    first_bn = next(m for m in task.model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = first_bn.running_mean.clone()
    session.step()
    assert not torch.equal(first_bn.running_mean, before)


@each_workload
def test_flops_per_sample(name):
    forward, train = torch_flops_per_sample(name)
    assert forward > 0
    # Backward costs about twice the forward (grad-input + grad-weight), less where inputs need no
    # gradient, more where one loss's graph is differentiated several times (CycleGAN's four losses).
    assert 1.5 * forward < train < 6 * forward


def test_flops_of_resnet50v2_at_224_match_the_reference():
    forward, _ = count_flops(implementation("torch", "resnet50v2_finetune"), 224)
    assert forward == pytest.approx(6.96e9, rel=0.01)
