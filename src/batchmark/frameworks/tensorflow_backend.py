"""TensorFlow through Keras 3: turn a plan into a runnable training step. Imported only inside a worker.

What is timed is one call of a custom train step, the body of Keras's own TensorFlow ``train_step``
(GradientTape, ``optimizer.scale_loss``, ``tape.gradient``, ``apply_gradients``) wrapped in ``tf.function``
with the plan's ``jit_compile``, exactly as ``model.compile``/``fit`` wrap it. Not ``train_on_batch``: that
converts the NumPy batch and copies it to the device on every call and updates loss trackers, costs the
PyTorch rows do not pay, and it cannot express CycleGAN's four optimizers. The batch is made once and
placed on the device, as in the PyTorch rows.

The plan's `onednn` switch is TF_ENABLE_ONEDNN_OPTS in the worker's environment, set by the parent
(`batchmark.frameworks.runtime`), never here: TensorFlow reads it once, in a call_once the first time its runtime
asks (IsMklEnabled, which `import tensorflow` already reaches), so setting it in this process would come too late
and be ignored without a word. `prepare` only checks that it took.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from batchmark.frameworks.keras_support import configure_environment

configure_environment("tensorflow")

import keras  # noqa: E402  (after configure_environment, which picks Keras's backend)
import tensorflow as tf  # noqa: E402

from batchmark.errors import Unsupported  # noqa: E402
from batchmark.plans import DeviceSupport, Plan, supported_device  # noqa: E402
from batchmark.frameworks import Prepared, keras_support, process_peak_rss  # noqa: E402
from batchmark.frameworks.tensorflow_flops import step_flops  # noqa: E402
from batchmark.machine import cpu_has_fast_bf16  # noqa: E402


class TensorFlowDevice:
    def __init__(self, name: str):
        self.name = name
        self.tf_name = "/CPU:0" if name == "cpu" else "/GPU:0"

    def synchronize(self) -> None:
        if self.name != "cpu":
            # Kernels are queued asynchronously on a GPU; this waits for all of them, optimizer updates too.
            tf.test.experimental.sync_devices()

    def description(self) -> str:
        if self.name == "cpu":
            return "cpu"
        details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
        return details.get("device_name", self.name)

    def peak_memory(self) -> tuple[int | None, str]:
        if self.name == "cpu":
            return process_peak_rss()
        return tf.config.experimental.get_memory_info("GPU:0")["peak"], "TensorFlow GPU peak allocated"


def available_devices() -> list[DeviceSupport]:
    devices = [DeviceSupport("cpu", bf16=cpu_has_fast_bf16(), fp16=False, tf32=False, compile=True)]
    gpus = tf.config.list_physical_devices("GPU")
    if gpus and sys.platform == "darwin":
        # tensorflow-metal: Keras itself turns XLA off there (model_supports_jit).
        devices.append(DeviceSupport("mps", bf16=False, fp16=True, tf32=False, compile=False))
    elif gpus:
        major, _ = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability", (0, 0))
        devices.append(DeviceSupport("cuda", bf16=major >= 8, fp16=True, tf32=major >= 8, compile=True))
    return devices


def onednn_enabled() -> bool | None:
    """Whether TensorFlow's oneDNN operations are on in this process (None: this TensorFlow cannot say)."""
    try:
        from tensorflow.python.util import _pywrap_util_port  # what tf.test's own IsMklEnabled asks
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())


def check_supported(plan: Plan) -> None:
    device = supported_device(plan, available_devices(), "TensorFlow")
    if plan.compile == "xla" and not device.compile:
        raise Unsupported(f"XLA (jit_compile) is not supported on '{plan.device}' by Keras")
    if plan.onednn is not None and onednn_enabled() not in (None, plan.onednn):
        raise Unsupported(f"onednn={str(plan.onednn).lower()}: this TensorFlow build "
                          f"{'has no oneDNN operations' if plan.onednn else 'cannot turn its oneDNN operations off'}")


class TensorFlowSession:
    """One prepared (workload, plan): the step the engine times."""

    def __init__(self, task, plan: Plan, device: TensorFlowDevice, batch: tuple):
        self.task = task
        self.device = device
        self.batch = batch
        self.train_step = tf.function(self._train_step, jit_compile=plan.compile == "xla", reduce_retracing=True)

    def _train_step(self, batch):
        trained = self.task.trained()
        with tf.GradientTape(persistent=len(trained) > 1) as tape:
            losses = self.task.losses(batch)
            scaled = {name: self.task.optimizers[name].scale_loss(losses[name]) for name in trained}
        for name in trained:  # each loss updates its own network only, as in the TensorFlow CycleGAN tutorial
            variables = self.task.networks[name].trainable_variables
            gradients = tape.gradient(scaled[name], variables)
            self.task.optimizers[name].apply_gradients(zip(gradients, variables))
        return tf.add_n([losses[name] for name in trained])

    def step(self):
        with tf.device(self.device.tf_name):
            return self.train_step(self.batch)

    def synchronize(self) -> None:
        self.device.synchronize()

    def read_loss(self, handle) -> float:
        return float(handle.numpy())  # a copy to the host: waits for the loss whatever the device queue does



class TensorFlowBackend:
    name = "tensorflow"

    def version(self) -> str:
        return f"{tf.__version__} (keras {keras.__version__})"

    def devices(self) -> list[DeviceSupport]:
        return available_devices()

    def threads(self) -> int:
        # 0 means TensorFlow's default: one intra-op thread per CPU the process may use.
        return tf.config.threading.get_intra_op_parallelism_threads() or len(os.sched_getaffinity(0))

    def prepare(self, workload: str, plan: Plan, batch_size: int, image_size: int, seed: int,
                weights: Path | None) -> Prepared:
        if plan.threads is not None:  # before anything starts TensorFlow's runtime, or it is refused
            tf.config.threading.set_intra_op_parallelism_threads(plan.threads)
        check_supported(plan)
        # fp32 means fp32: TensorFlow runs float32 matmuls and convolutions as TF32 on Ampere by default.
        tf.config.experimental.enable_tensor_float_32_execution(plan.precision == "tf32")
        device = TensorFlowDevice(plan.device)
        with tf.device(device.tf_name):
            task = keras_support.build_task(workload, plan, seed, weights)
            batch = tuple(tf.constant(array) for array in keras_support.make_batch(task, batch_size, image_size, seed))
        if device.name != "cpu":
            tf.config.experimental.reset_memory_stats("GPU:0")
        return Prepared(TensorFlowSession(task, plan, device, batch), device, workload, image_size)

    def flops_per_sample(self, prepared: Prepared) -> tuple[float, float]:
        """From the graph the timed steps ran (already traced: this costs no step)."""
        session = prepared.session
        graph = session.train_step.get_concrete_function(session.batch).graph
        forward, total = step_flops(graph)
        batch_size = int(session.batch[0].shape[0])
        return forward / batch_size, total / batch_size
