"""What the TensorFlow and JAX backends share: Keras's set-up, the dtype policy, building a task.

``configure_environment`` must run before the first ``import keras`` in the process: Keras picks its
backend at import, and writes a keras.json into KERAS_HOME. batchmark points KERAS_HOME at its own cache
so that a benchmark never writes into, or is changed by, a user's ~/.keras (whose keras.json can set floatx
or the image format); it also sets both explicitly.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import platformdirs

from batchmark.plans import Plan

# Keras's mixed-precision policies: compute in the low dtype, keep variables in float32. "tf32" is float32
# with TensorFloat-32 matmuls allowed, which is a framework switch, not a policy.
POLICIES = {"fp32": "float32", "tf32": "float32", "bf16": "mixed_bfloat16", "fp16": "mixed_float16"}


def configure_environment(backend: str) -> None:
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("KERAS_HOME", str(platformdirs.user_cache_path("batchmark") / "keras"))
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up banner is not a warning


def build_task(workload: str, plan: Plan, seed: int, weights: Path | None):
    """The workload's KerasTask under the plan's dtype policy, seeded, with its optimizers built."""
    import keras

    from batchmark.workloads.attention import attention_implementation
    from batchmark.workloads.registry import implementation

    keras.config.set_floatx("float32")
    keras.config.set_image_data_format("channels_last")
    keras.config.set_dtype_policy(POLICIES[plan.precision])
    keras.utils.set_random_seed(seed)  # the same initial weights for every plan of a workload
    # Attention layers read the plan's `attention` switch while they are built (workloads/keras/attention.py).
    with attention_implementation(plan.attention):
        task = implementation("keras", workload)()  # one Keras 3 model file serves TensorFlow and JAX
    if weights is not None:
        load_weights(task, weights)
    if plan.precision == "fp16":
        # fp16 has too little range for gradients: dynamic loss scaling, as model.compile adds under
        # mixed_float16. bf16 has float32's range and needs none.
        task.optimizers = {name: keras.optimizers.LossScaleOptimizer(optimizer)
                           for name, optimizer in task.optimizers.items()}
    for name, optimizer in task.optimizers.items():
        # Built here, not lazily inside the first traced step, where creating variables is fragile.
        optimizer.build(task.networks[name].trainable_variables)
    return task


def load_weights(task, path: Path) -> None:
    """A Keras weights file (.weights.h5) for the workload's one trained network."""
    trained = task.trained()
    if len(trained) != 1:
        raise ValueError(f"{path}: --weights takes one network's weights; this workload trains {', '.join(trained)}")
    task.networks[trained[0]].load_weights(path)


def make_batch(task, batch_size: int, image_size: int, seed: int) -> tuple[np.ndarray, ...]:
    return task.make_batch(batch_size, image_size, np.random.default_rng(seed))
