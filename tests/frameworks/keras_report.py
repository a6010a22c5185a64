"""What the parity tests need from one Keras backend, measured in a process of its own.

``python -m tests.frameworks.keras_report FRAMEWORK`` prints JSON: per workload the trainable parameters per
network and the FLOPs per sample of the backend's traced step, at the sizes the PyTorch tests count at; and
the results of short real training steps. TensorFlow, JAX and PyTorch never share a process, in batchmark
or in its tests.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path

from batchmark.plans import Plan
from batchmark.frameworks import load_backend

# Small but valid inputs: (batch, image size). CycleGAN's U-Net needs 256.
COUNT_SIZES = {"resnet50v2_finetune": (2, 32), "mobilenetv3": (2, 32), "densenet121": (2, 32),
               "cyclegan": (1, 256), "style_transfer": (1, 32)}


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
    import numpy as np

    return np.asarray(value, dtype=np.float64).ravel().tolist()


def count(backend, framework: str) -> dict:
    report = {}
    for workload, (batch_size, image_size) in COUNT_SIZES.items():
        prepared = backend.prepare(workload, plan_for(framework), batch_size, image_size, 0, None)
        task = prepared.session.task
        parameters = {name: sum(math.prod(v.shape) for v in network.trainable_variables)
                      for name, network in task.networks.items()}
        forward, train = backend.flops_per_sample(prepared)
        report[workload] = {"parameters": parameters, "forward_flops": forward, "train_flops": train,
                            "image_size": image_size}
    return report


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
    framework = sys.argv[1]
    backend = load_backend(framework)
    print(json.dumps({"counts": count(backend, framework), "steps": steps(backend, framework)}))
