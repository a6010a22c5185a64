"""What the Keras tests need from one backend, measured in a process of its own.

``python -m tests.frameworks.keras_report FRAMEWORK [--train]`` prints JSON: which of the registered workloads
(tests/workloads/registered.py, the test plugin's included) the Keras family implements; for each, its trainable
parameters and the FLOPs per sample of the backend's traced step, at the sizes the PyTorch tests step at, and
with --train what a few real steps on a fixed batch did; then the backend-specific steps below. TensorFlow,
JAX and PyTorch never share a process, in batchmark or in its tests.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from batchmark.frameworks import load_backend
from batchmark.plans import Plan
from batchmark.workloads.registry import families_implementing, load_families
from tests.workloads.registered import step_sizes, trained_workloads

STEPS = 5


def measure_in_own_process(module: str, framework: str, home: Path, *arguments: str, timeout: int) -> dict:
    """Runs ``python -m module framework arguments...`` with a Keras home and caches of its own under `home`, and
    returns the JSON it prints last: how the Keras tests measure one framework without importing it themselves."""
    from tests.conftest import REPO

    environment = {**os.environ, "KERAS_HOME": str(home / "keras"), "XDG_CACHE_HOME": str(home / "cache"),
                   "PYTHONPATH": str(REPO)}
    completed = subprocess.run([sys.executable, "-m", module, framework, *arguments], capture_output=True, text=True,
                               env=environment, timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def plan_for(framework: str) -> Plan:
    return Plan(framework=framework, compile="xla" if framework == "jax" else "off", channels_last=True)


def variable_value(prepared, variable):
    """The variable's current value: TensorFlow updates Keras variables in place, JAX carries them in state."""
    session = prepared.session
    if hasattr(session, "other"):  # JAX
        for index, candidate in enumerate(session.other):
            if candidate is variable:
                return session.state[1][index]
        for name, variables in session.trainable.items():
            for index, candidate in enumerate(variables):
                if candidate is variable:
                    return session.state[0][name][index]
    return variable.value


def as_list(value) -> list[float]:
    return np.asarray(value, dtype=np.float64).ravel().tolist()


def keras_workloads() -> list[str]:
    load_families(("keras",))  # after load_backend, which picks Keras's backend
    return [name for name in trained_workloads() if "keras" in families_implementing(name)]


def workload_figures(backend, framework: str, name: str, train: bool) -> dict:
    batch_size, image_size = step_sizes(name)
    prepared = backend.prepare(name, plan_for(framework), batch_size, image_size, 0, None)
    networks = prepared.session.task.networks.values()
    forward, train_flops = backend.flops_per_sample(prepared)
    figures = {"trainable_parameters": sum(math.prod(v.shape) for net in networks for v in net.trainable_variables),
               "forward_flops": forward, "train_flops": train_flops}
    return {**figures, **training(prepared)} if train else figures


def training(prepared) -> dict:
    """Real steps on the fixed batch: every loss; the trained variables the first step left as they were (their
    paths and total size); and any variable of a network no optimizer trains that changed."""
    session = prepared.session
    task = session.task
    trained = {id(v): v for name in task.trained() for v in task.networks[name].trainable_variables}
    frozen = {id(v): v for name, network in task.networks.items() if name not in task.trained()
              for v in network.variables if id(v) not in trained}
    before = {key: np.asarray(variable_value(prepared, v)).copy() for key, v in {**trained, **frozen}.items()}

    def changed(key: int, variable) -> bool:
        return not np.array_equal(before[key], variable_value(prepared, variable))

    losses = [session.read_loss(session.step())]
    session.synchronize()
    untrained = [v for key, v in trained.items() if not changed(key, v)]
    frozen_changed = [v.path for key, v in frozen.items() if changed(key, v)]
    losses += [session.read_loss(session.step()) for _ in range(STEPS - 1)]
    return {"losses": losses, "frozen_changed": frozen_changed, "unchanged_variables": [v.path for v in untrained],
            "unchanged_parameters": sum(math.prod(v.shape) for v in untrained)}


def steps(backend, framework: str) -> dict:
    """Three real steps of style transfer on a fixed batch, and one fine-tune step's effect on BatchNorm."""
    prepared = backend.prepare("style_transfer", plan_for(framework), 1, 32, 0, None)
    session = prepared.session
    losses = []
    for _ in range(3):
        handle = session.step()
        session.synchronize()
        losses.append(session.read_loss(handle))
    ready = None
    if hasattr(session, "state"):  # JAX dispatches asynchronously: after the sync, every buffer is ready
        import jax

        ready = all(leaf.is_ready() for leaf in jax.tree.leaves(session.state))
    loss_type = type(session.read_loss(session.step())).__name__

    # --weights: a Keras weights file of the trained network, loaded over a differently seeded build.
    saved = session.task.networks["transform"]
    path = Path(tempfile.mkdtemp()) / "transform.weights.h5"
    saved.save_weights(path)
    loaded = backend.prepare("style_transfer", plan_for(framework), 1, 32, 1, path).session.task.networks["transform"]
    weights_loaded = all(as_list(a.value) == as_list(b.value) for a, b in zip(saved.weights, loaded.weights))
    unseeded = backend.prepare("style_transfer", plan_for(framework), 1, 32, 1, None).session.task.networks["transform"]
    seeds_differ = as_list(saved.weights[0].value) != as_list(unseeded.weights[0].value)

    prepared = backend.prepare("resnet50v2_finetune", plan_for(framework), 2, 32, 0, None)
    model = prepared.session.task.networks["model"]
    batch_norm = model.get_layer("resnet50v2").get_layer("conv2_block1_preact_bn")
    before = {v.path: as_list(variable_value(prepared, v)) for v in batch_norm.variables}
    prepared.session.step()
    prepared.session.synchronize()
    after = {v.path: as_list(variable_value(prepared, v)) for v in batch_norm.variables}
    changed = {path.rsplit("/", 1)[-1]: before[path] != after[path] for path in before}
    trainable = [v.path.rsplit("/", 1)[-1] for v in batch_norm.trainable_variables]
    return {"style_losses": losses, "ready_after_sync": ready, "loss_type": loss_type,
            "weights_loaded": weights_loaded, "seeds_differ": seeds_differ,
            "batchnorm_changed": changed, "batchnorm_trainable": trainable}


if __name__ == "__main__":
    framework, train = sys.argv[1], "--train" in sys.argv[2:]
    backend = load_backend(framework)
    names = keras_workloads()
    print(json.dumps({"implemented": names,
                      "workloads": {name: workload_figures(backend, framework, name, train) for name in names},
                      "steps": steps(backend, framework)}))
