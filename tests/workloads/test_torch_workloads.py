"""Every registered PyTorch workload: parameter counts, a real training step, and FLOPs.

Parametrized over the registry, so a new workload gets these checks for free.
"""

import pytest
import torch

from batchmark.plans import Plan
from batchmark.frameworks.torch_backend import TorchDevice, TorchSession
from batchmark.frameworks.torch_flops import count_flops
from batchmark.workloads.registry import get_workload, implementation, workload_names

# Trainable parameters per network. The first three equal Keras's trainable counts (Keras's count_params
# adds the BatchNorm moving statistics, which PyTorch keeps as buffers). The TensorFlow versions of the
# other two must reproduce these numbers exactly.
PARAMETERS = {
    "resnet50v2_finetune": {"model": 23_519_360 + 2048 * 10 + 10},  # ResNet50V2 without top + Dense(10)
    "mobilenetv3": {"model": 5_483_032},
    "densenet121": {"model": 7_978_856},
    "cyclegan": {"generator_g": 54_414_979, "generator_f": 54_414_979,
                 "discriminator_x": 2_765_569, "discriminator_y": 2_765_569},
    "style_transfer": {"transform": 1_679_235, "vgg16": 0},
}
SEED_WORKLOADS = list(PARAMETERS)
# Parameters whose gradient is exactly zero by construction, faithfully to the reference model: at
# 256x256 the pix2pix U-Net's innermost downsample meets instance norm on a 1x1 map, whose output is its
# offset alone (zero at init); the first upsample then sees zeros and its ReLU passes no gradient. The
# TensorFlow tutorial's generators carry the same 8,390,656 dead parameters each.
ZERO_GRADIENT = {
    "cyclegan": {f"{generator}.{block}.{parameter}"
                 for generator in ("generator_g", "generator_f")
                 for block in ("down_stack.7", "up_stack.0")
                 for parameter in ("conv.weight", "norm.scale", "norm.offset")},
}


def small_size(name: str) -> int:
    spec = get_workload(name)
    return max(spec.min_image_size, 32 if spec.image_multiple == 1 else spec.image_multiple)


def build(name: str):
    torch.manual_seed(0)
    task = implementation("torch", name)()
    task.set_modes()
    # Batch 2 so that BatchNorm sees more than one value per channel; CycleGAN has no BatchNorm and
    # needs 256x256, so batch 1 keeps it affordable.
    batch_size = 1 if name == "cyclegan" else 2
    batch = task.make_batch(batch_size, small_size(name), torch.Generator().manual_seed(0))
    return task, TorchSession(task, Plan(), TorchDevice("cpu"), batch)


def test_the_seed_workloads_are_registered():
    assert set(SEED_WORKLOADS) <= set(workload_names())


@pytest.mark.parametrize("name", SEED_WORKLOADS)
def test_parameter_counts(name):
    task = implementation("torch", name)()
    counts = {network: sum(p.numel() for p in module.parameters() if p.requires_grad)
              for network, module in task.networks.items()}
    assert counts == PARAMETERS[name]


def test_resnet50v2_without_top_matches_keras():
    from batchmark.workloads.torch.resnet50v2 import ResNet50V2

    backbone = ResNet50V2(num_classes=None)
    assert sum(p.numel() for p in backbone.parameters()) == 23_519_360
    moving_statistics = sum(b.numel() for name, b in backbone.named_buffers() if "running" in name)
    assert sum(p.numel() for p in backbone.parameters()) + moving_statistics == 23_564_800


@pytest.mark.parametrize("name", SEED_WORKLOADS)
def test_a_step_trains_every_trainable_parameter_and_only_those(name):
    task, session = build(name)
    before = {id(p): p.detach().clone() for net in task.networks.values() for p in net.parameters()}
    loss = session.read_loss(session.step())
    assert torch.isfinite(torch.tensor(loss))
    for network, module in task.networks.items():
        for parameter_name, parameter in module.named_parameters():
            if parameter.requires_grad:
                assert parameter.grad is not None, f"{network}.{parameter_name} got no gradient"
                assert torch.isfinite(parameter.grad).all(), f"{network}.{parameter_name}"
                if f"{network}.{parameter_name}" in ZERO_GRADIENT.get(name, ()):
                    assert not parameter.grad.any()
                    continue
                assert not torch.equal(parameter, before[id(parameter)]), f"{network}.{parameter_name} not updated"
            else:
                assert parameter.grad is None and torch.equal(parameter, before[id(parameter)])


@pytest.mark.parametrize("name", SEED_WORKLOADS)
def test_loss_goes_down_on_a_fixed_batch(name):
    _, session = build(name)
    # Adam's first steps may overshoot (style transfer's loss spikes at step 1, as in Johnson et al.),
    # so ask for any later loss below the first rather than a monotone fall.
    losses = [session.read_loss(session.step()) for _ in range(5)]
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


@pytest.mark.parametrize("name", SEED_WORKLOADS)
def test_flops_per_sample(name):
    forward, train = count_flops(implementation("torch", name), small_size(name))
    assert forward > 0
    # Backward costs about twice the forward (grad-input + grad-weight), less where inputs need no
    # gradient, more where one loss's graph is differentiated several times (CycleGAN's four losses).
    assert 1.5 * forward < train < 6 * forward


def test_flops_of_resnet50v2_at_224_match_the_reference():
    forward, _ = count_flops(implementation("torch", "resnet50v2_finetune"), 224)
    assert forward == pytest.approx(6.96e9, rel=0.01)
