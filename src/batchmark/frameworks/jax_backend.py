"""JAX through Keras 3: turn a plan into a runnable training step. Imported only inside a worker.

The step is what Keras's own JAX trainer does in ``fit``: a pure function of all state (trainable and
non-trainable variables, optimizer slots) run under ``keras.StatelessScope`` and compiled by ``jax.jit``,
with the state buffers donated so that updates happen in place. Each loss is differentiated with respect to
its own network's variables only (one shared pullback, one cotangent per loss), as the TensorFlow backend's
``tape.gradient`` per network does. JAX dispatches asynchronously, so the engine's sync waits for every
buffer of the new state, and the loss is read back as a Python float.
"""

from __future__ import annotations

import os
from pathlib import Path

from batchmark.frameworks.keras_support import configure_environment

configure_environment("jax")

import jax  # noqa: E402
import keras  # noqa: E402

from batchmark.errors import Unsupported  # noqa: E402
from batchmark.plans import DeviceSupport, Plan, supported_device  # noqa: E402
from batchmark.frameworks import Prepared, keras_support, process_peak_rss  # noqa: E402
from batchmark.frameworks.jax_flops import count_flops  # noqa: E402
from batchmark.machine import cpu_has_fast_bf16  # noqa: E402

JAX_PLATFORMS = {"cpu": "cpu", "cuda": "gpu"}


class JaxDevice:
    def __init__(self, name: str):
        self.name = name
        self.jax_device = jax.devices(JAX_PLATFORMS[name])[0]

    def description(self) -> str:
        return self.name if self.name == "cpu" else self.jax_device.device_kind

    def peak_memory(self) -> tuple[int | None, str]:
        if self.name == "cpu":
            return process_peak_rss()
        return self.jax_device.memory_stats()["peak_bytes_in_use"], "XLA GPU peak bytes in use"


def available_devices() -> list[DeviceSupport]:
    devices = [DeviceSupport("cpu", bf16=cpu_has_fast_bf16(), fp16=False, tf32=False, compile=True)]
    try:
        gpus = jax.devices("gpu")
    except RuntimeError:  # no GPU backend in this jaxlib
        gpus = []
    if gpus:
        major = int(str(getattr(gpus[0], "compute_capability", "0")).split(".")[0])
        devices.append(DeviceSupport("cuda", bf16=major >= 8, fp16=True, tf32=major >= 8, compile=True))
    return devices


def check_supported(plan: Plan) -> None:
    supported_device(plan, available_devices(), "JAX")
    if plan.threads is not None:
        raise Unsupported("XLA on the CPU has no thread-count setting (only single-threaded Eigen); use threads=default")


def _unique(variables) -> list:
    return list({id(variable): variable for variable in variables}.values())


class JaxSession:
    """One prepared (workload, plan): the step the engine times, and the state it carries between steps."""

    def __init__(self, task, device: JaxDevice, batch: tuple):
        self.task = task
        self.batch = batch
        self.trained = task.trained()
        self.trainable = {name: task.networks[name].trainable_variables for name in self.trained}
        trained_ids = {id(variable) for variables in self.trainable.values() for variable in variables}
        # Everything else a step reads or writes: frozen networks, BatchNorm statistics, dropout seeds.
        self.other = [variable for variable in _unique(v for network in task.networks.values()
                                                       for v in network.variables)
                      if id(variable) not in trained_ids]
        self.slots = {name: task.optimizers[name].variables for name in self.trained}
        state = (
            {name: [v.value for v in variables] for name, variables in self.trainable.items()},
            [v.value for v in self.other],
            {name: [v.value for v in variables] for name, variables in self.slots.items()},
        )
        # A copy: the step donates its input state, which must not delete the Keras variables' own buffers.
        self.state = jax.device_put(state, device.jax_device, may_alias=False)
        self.train_step = jax.jit(self._pure_step, donate_argnums=0)

    def _losses(self, trainable_values, other_values, slot_values, batch):
        mapping = [*zip(self.other, other_values)]
        for name in self.trained:
            mapping += [*zip(self.trainable[name], trainable_values[name]), *zip(self.slots[name], slot_values[name])]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            losses = self.task.losses(batch)
            scaled = [self.task.optimizers[name].scale_loss(losses[name]) for name in self.trained]
        return scaled, (losses, [scope.get_current_value(variable) for variable in self.other])

    def _pure_step(self, state, batch):
        trainable_values, other_values, slot_values = state
        scaled, pullback, (losses, other_values) = jax.vjp(
            lambda values: self._losses(values, other_values, slot_values, batch), trainable_values, has_aux=True)
        new_trainable, new_slots = {}, {}
        for index, name in enumerate(self.trained):
            cotangent = [keras.ops.ones_like(s) if i == index else keras.ops.zeros_like(s) for i, s in enumerate(scaled)]
            (gradients,) = pullback(cotangent)
            new_trainable[name], new_slots[name] = self.task.optimizers[name].stateless_apply(
                slot_values[name], gradients[name], trainable_values[name])
        total = sum(losses[name] for name in self.trained)
        return (new_trainable, other_values, new_slots), total

    def step(self):
        self.state, loss = self.train_step(self.state, self.batch)
        return loss

    def synchronize(self) -> None:
        jax.block_until_ready(self.state)  # every updated weight, not just the loss computed before them

    def read_loss(self, handle) -> float:
        return float(handle)

    def step_jaxpr(self):
        return jax.make_jaxpr(self._pure_step)(self.state, self.batch)

    def forward_jaxpr(self):
        trainable_values, other_values, slot_values = self.state
        return jax.make_jaxpr(self._losses)(trainable_values, other_values, slot_values, self.batch)



class JaxBackend:
    name = "jax"

    def version(self) -> str:
        return f"{jax.__version__} (keras {keras.__version__})"

    def devices(self) -> list[DeviceSupport]:
        return available_devices()

    def threads(self) -> int:
        return len(os.sched_getaffinity(0))  # XLA's CPU runtime uses every CPU the process may use

    def prepare(self, workload: str, plan: Plan, batch_size: int, image_size: int, seed: int,
                weights: Path | None) -> Prepared:
        check_supported(plan)
        # fp32 means fp32: on Ampere and newer, JAX's default matmul precision is TF32.
        jax.config.update("jax_default_matmul_precision", "tensorfloat32" if plan.precision == "tf32" else "highest")
        device = JaxDevice(plan.device)
        with jax.default_device(device.jax_device):
            task = keras_support.build_task(workload, plan, seed, weights)
            batch = jax.device_put(keras_support.make_batch(task, batch_size, image_size, seed), device.jax_device)
            session = JaxSession(task, device, batch)
        return Prepared(session, device, workload, image_size)

    def flops_per_sample(self, prepared: Prepared) -> tuple[float, float]:
        """Traced again (no step runs): the jaxpr of the whole step, and of its forward part alone."""
        session = prepared.session
        batch_size = int(session.batch[0].shape[0])
        return (count_flops(session.forward_jaxpr()) / batch_size,
                count_flops(session.step_jaxpr()) / batch_size)
