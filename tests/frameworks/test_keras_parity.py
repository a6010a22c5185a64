"""The Keras workloads on TensorFlow and JAX against their PyTorch twins: the same networks, the same work.

Each framework's figures come from `keras_report` in a process of its own (TensorFlow, JAX and PyTorch
never share one); PyTorch's are counted here. A parameter mismatch, or FLOPs more than 2% apart, means one
architecture is wrong.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from batchmark.frameworks.torch_flops import count_flops
from batchmark.workloads.registry import implementation
from tests.conftest import REPO
from tests.frameworks.keras_report import COUNT_SIZES
from tests.workloads.test_torch_workloads import PARAMETERS

KERAS_FRAMEWORKS = ["tensorflow", "jax"]
FLOPS_TOLERANCE = 0.02

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=KERAS_FRAMEWORKS)
def report(request, tmp_path_factory):
    home = tmp_path_factory.mktemp(f"keras-{request.param}")
    environment = {**os.environ, "KERAS_HOME": str(home / "keras"), "XDG_CACHE_HOME": str(home / "cache"),
                   "PYTHONPATH": str(REPO)}
    completed = subprocess.run([sys.executable, "-m", "tests.frameworks.keras_report", request.param],
                               capture_output=True, text=True, env=environment, timeout=1200)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return request.param, json.loads(completed.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def torch_flops():
    return {name: count_flops(implementation("torch", name), size) for name, (_, size) in COUNT_SIZES.items()}


@pytest.mark.parametrize("workload", list(COUNT_SIZES))
def test_trainable_parameters_equal_pytorch(report, workload):
    _, figures = report
    assert figures["counts"][workload]["parameters"] == PARAMETERS[workload]


@pytest.mark.parametrize("workload", list(COUNT_SIZES))
def test_flops_per_sample_agree_with_pytorch(report, torch_flops, workload):
    framework, figures = report
    counted = figures["counts"][workload]
    forward, train = torch_flops[workload]
    assert counted["forward_flops"] == pytest.approx(forward, rel=FLOPS_TOLERANCE), framework
    assert counted["train_flops"] == pytest.approx(train, rel=FLOPS_TOLERANCE), framework
    # Not trivially equal: a training step does more than its forward pass.
    assert counted["train_flops"] > 2 * counted["forward_flops"]


def test_real_steps_give_finite_python_float_losses(report):
    _, figures = report
    steps = figures["steps"]
    assert steps["loss_type"] == "float"  # read back to the host: the step cannot still be running
    assert all(math.isfinite(loss) for loss in steps["style_losses"])
    assert len(set(steps["style_losses"])) == 3  # the weights moved between steps


def test_jax_sync_waits_for_every_updated_weight(report):
    framework, figures = report
    if framework != "jax":
        pytest.skip("TensorFlow updates variables in place; its sync is tested through read_loss")
    assert figures["steps"]["ready_after_sync"] is True


def test_finetune_trains_batchnorm_scale_but_freezes_its_statistics(report):
    _, figures = report
    steps = figures["steps"]
    assert steps["batchnorm_trainable"] == ["gamma", "beta"]
    assert steps["batchnorm_changed"] == {"gamma": True, "beta": True, "moving_mean": False,
                                          "moving_variance": False}


def test_weights_file_is_loaded(report):
    _, figures = report
    assert figures["steps"]["seeds_differ"]  # otherwise loading could not be told from seeding
    assert figures["steps"]["weights_loaded"]
