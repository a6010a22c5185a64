"""The Keras workloads on TensorFlow and JAX, held to the same specs as their PyTorch twins.

Parametrized over the registry as tests/workloads/test_torch_workloads.py is (a workload with no Keras
implementation, such as the test plugin's tiny_cnn, is skipped by name). Each framework's figures come from
`keras_report` in a process of its own (TensorFlow, JAX and PyTorch never share one); PyTorch's FLOPs are
counted here. A parameter count off the spec, or FLOPs more than 2% from PyTorch's, means one architecture is
wrong. Every workload trains for real on TensorFlow; JAX, whose XLA compile of each full network would cost
minutes on a small CPU, trains style transfer and the fine-tune (GPT-2 and ViT-B/16 too would cost about 30 s each
there; their tiny twins train on JAX in tests/workloads/test_keras_transformers.py).
"""

from __future__ import annotations

import functools
import math

import pytest

from batchmark.workloads.registry import get_workload
from tests.frameworks.keras_report import measure_in_own_process
from tests.workloads.registered import DEAD_PARAMETERS, SEED_WORKLOADS, torch_flops_per_sample, trained_workloads

KERAS_FRAMEWORKS = ["tensorflow", "jax"]
TRAINS_EVERY_WORKLOAD = "tensorflow"
FLOPS_TOLERANCE = 0.02

pytestmark = pytest.mark.slow
each_framework = pytest.mark.parametrize("framework", KERAS_FRAMEWORKS)
each_workload = pytest.mark.parametrize("name", trained_workloads())


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """framework -> what `keras_report` measured there; each framework's process runs once for this module."""

    @functools.cache
    def measure(framework: str) -> dict:
        train = ["--train"] if framework == TRAINS_EVERY_WORKLOAD else []
        return measure_in_own_process("tests.frameworks.keras_report", framework,
                                      tmp_path_factory.mktemp(f"keras-{framework}"), *train, timeout=1200)

    return measure


def figures_of(report: dict, name: str) -> dict:
    if name not in report["implemented"]:
        pytest.skip(f"{name} has no Keras implementation")
    return report["workloads"][name]


@each_framework
def test_keras_implements_every_seed_workload(report, framework):
    assert set(SEED_WORKLOADS) <= set(report(framework)["implemented"])


@each_framework
@each_workload
def test_trainable_parameters_equal_the_spec(report, framework, name):
    assert figures_of(report(framework), name)["trainable_parameters"] == get_workload(name).trainable_parameters


@each_framework
@each_workload
def test_flops_per_sample_agree_with_pytorch(report, framework, name):
    counted = figures_of(report(framework), name)
    forward, train = torch_flops_per_sample(name)
    assert counted["forward_flops"] == pytest.approx(forward, rel=FLOPS_TOLERANCE)
    assert counted["train_flops"] == pytest.approx(train, rel=FLOPS_TOLERANCE)
    # Not trivially equal: a training step does more than its forward pass.
    assert counted["train_flops"] > 2 * counted["forward_flops"]


@each_workload
def test_a_step_changes_every_trainable_weight_and_only_those(report, name):
    trained = figures_of(report(TRAINS_EVERY_WORKLOAD), name)
    assert math.isfinite(trained["losses"][0])
    assert trained["unchanged_parameters"] == DEAD_PARAMETERS.get(name, 0), trained["unchanged_variables"]
    assert trained["frozen_changed"] == []


@each_workload
def test_loss_goes_down_on_a_fixed_batch(report, name):
    losses = figures_of(report(TRAINS_EVERY_WORKLOAD), name)["losses"]
    assert all(map(math.isfinite, losses)), losses
    # As in PyTorch: Adam's first steps may overshoot, so any later loss below the first.
    assert min(losses[2:]) < losses[0], losses


@each_framework
def test_real_steps_give_finite_python_float_losses(report, framework):
    steps = report(framework)["steps"]
    assert steps["loss_type"] == "float"  # read back to the host: the step cannot still be running
    assert all(math.isfinite(loss) for loss in steps["style_losses"])
    assert len(set(steps["style_losses"])) == 3  # the weights moved between steps


def test_jax_sync_waits_for_every_updated_weight(report):
    # TensorFlow updates variables in place; its sync is tested through read_loss.
    assert report("jax")["steps"]["ready_after_sync"] is True


@each_framework
def test_finetune_trains_batchnorm_scale_but_freezes_its_statistics(report, framework):
    steps = report(framework)["steps"]
    assert steps["batchnorm_trainable"] == ["gamma", "beta"]
    assert steps["batchnorm_changed"] == {"gamma": True, "beta": True, "moving_mean": False,
                                          "moving_variance": False}


@each_framework
def test_weights_file_is_loaded(report, framework):
    steps = report(framework)["steps"]
    assert steps["seeds_differ"]  # otherwise loading could not be told from seeding
    assert steps["weights_loaded"]
