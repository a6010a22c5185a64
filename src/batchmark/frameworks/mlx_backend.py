"""MLX: turn a plan into a runnable training step. Imported only inside a worker process.

MLX is lazy: an operation records a graph and computes nothing until its result is evaluated. A step that
evaluated only its loss would time the forward pass (the loss does not depend on the update), and one that
evaluated nothing would time graph building alone, while the real work piled up unseen. So each step ends with
`mx.eval` of the loss *and* the model's whole state (every network of the task, every updated parameter,
BatchNorm's statistics) and every optimizer's state, and the session checks before the first timed step that
what it evaluates covers every trainable parameter and every optimizer slot (`check_evaluates_everything`): a
step that leaves any out is refused, never timed. The task builds the step (`make_step`: one loss and one
optimizer, or CycleGAN's four), so the session holds any number of them. `compile=default` is `mx.compile`
over the same step, with that state as its inputs and outputs, as MLX's own training examples compile theirs.
Precisions other than fp32 are MLX's way of running them: the model cast to that dtype (`set_dtype`), the loss
in fp32.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import mlx.core as mx
import mlx.nn as nn
from mlx.utils import tree_flatten

from batchmark.errors import Unsupported
from batchmark.frameworks import Prepared, process_peak_rss
from batchmark.machine import cpu_has_fast_bf16
from batchmark.plans import DeviceSupport, Plan, supported_device
from batchmark.workloads.attention import attention_implementation
from batchmark.workloads.mlx.task import make_step, optimizers_of
from batchmark.workloads.registry import implementation

DTYPES = {"fp32": mx.float32, "bf16": mx.bfloat16, "fp16": mx.float16}


def gpu_name() -> str | None:
    """The plan's name for MLX's GPU here: Metal on a Mac ("mps", as PyTorch names it), CUDA on Linux."""
    if mx.metal.is_available():
        return "mps"
    cuda = getattr(mx, "cuda", None)
    return "cuda" if cuda is not None and cuda.is_available() else None


def available_devices() -> list[DeviceSupport]:
    devices = [DeviceSupport("cpu", bf16=cpu_has_fast_bf16(), fp16=False, tf32=False, compile=True)]
    if (name := gpu_name()) is not None:
        devices.append(DeviceSupport(name, bf16=True, fp16=True, tf32=False, compile=True))
    return devices


def check_supported(plan: Plan) -> None:
    supported_device(plan, available_devices(), "MLX")
    if plan.threads is not None:
        raise Unsupported("MLX has no thread-count setting; use threads=default")
    if plan.precision not in DTYPES:
        raise Unsupported(f"precision={plan.precision} does not exist in MLX (fp32, bf16, fp16)")


class MlxDevice:
    def __init__(self, name: str):
        self.name = name
        self.mlx_device = mx.cpu if name == "cpu" else mx.gpu

    def description(self) -> str:
        if self.name == "cpu":
            return "cpu"
        return mx.metal.device_info().get("device_name", "MLX GPU") if self.name == "mps" else "MLX CUDA GPU"

    def peak_memory(self) -> tuple[int | None, str]:
        if self.name == "cpu":
            return process_peak_rss()
        return mx.get_peak_memory(), "MLX peak memory"


def leaves(tree) -> list[mx.array]:
    return [value for _, value in tree_flatten(tree) if isinstance(value, mx.array)]


def check_evaluates_everything(evaluated, model: nn.Module, optimizers: dict) -> None:
    """Refuses a step whose evaluation leaves out a trainable parameter or an optimizer slot: MLX would not
    compute them, and the clock would time a fraction of the step."""
    covered = {id(array) for array in leaves(evaluated)}
    missing = [name for name, value in tree_flatten(model.trainable_parameters()) if id(value) not in covered]
    missing += [f"optimizer.{network}.{name}" for network, optimizer in optimizers.items()
                for name, value in tree_flatten(optimizer.state)
                if isinstance(value, mx.array) and id(value) not in covered]
    if missing:
        raise Unsupported(f"the step does not evaluate {len(missing)} updated arrays ({', '.join(missing[:3])}, "
                          f"...): MLX is lazy, so it would time only part of the step")


class MlxSession:
    """One prepared (workload, plan): the step the engine times."""

    def __init__(self, task, plan: Plan, batch: tuple[mx.array, ...]):
        self.task, self.batch = task, batch
        train_step = make_step(task)  # creates the optimizers' slots, so that they exist to be checked
        # Everything a step reads and replaces: parameters and BatchNorm statistics, Adam's slots and step
        # count, and the random state that dropout draws from. The containers are live: MLX updates them.
        self.optimizers = optimizers_of(task)
        self.state = [task.model.state, [optimizer.state for optimizer in self.optimizers.values()],
                      mx.random.state]
        self.train_step = (partial(mx.compile, inputs=self.state, outputs=self.state)(train_step)
                           if plan.compile != "off" else train_step)
        self._checked = False

    def evaluated(self, loss: mx.array) -> list:
        """What each step evaluates before it counts as done."""
        return [loss, self.state]

    def step(self) -> mx.array:
        loss = self.train_step(*self.batch)
        evaluated = self.evaluated(loss)
        if not self._checked:  # once: the containers keep their keys from step to step
            check_evaluates_everything(evaluated, self.task.model, self.optimizers)
            self._checked = True
        mx.eval(evaluated)
        return loss

    def synchronize(self) -> None:
        mx.synchronize()  # the step's mx.eval already waited; this covers work queued outside it

    def read_loss(self, handle: mx.array) -> float:
        return handle.item()


def build_task(workload: str, plan: Plan, seed: int, weights: Path | None):
    """The workload's task, seeded (the same initial weights for every plan), in the plan's dtype."""
    mx.random.seed(seed)
    with attention_implementation(plan.attention):  # attention layers read the switch when built, as torch's do
        task = implementation("mlx", workload)()
    if weights is not None:
        task.model.load_weights(str(weights))  # a .safetensors or .npz file, as mx.save_safetensors writes
    if plan.precision != "fp32":
        task.model.set_dtype(DTYPES[plan.precision])
    task.set_modes()
    return task


class MlxBackend:
    name = "mlx"

    def version(self) -> str:
        return mx.__version__

    def devices(self) -> list[DeviceSupport]:
        return available_devices()

    def threads(self) -> None:
        return None  # no setting, and no way to read how many threads its kernels and BLAS use

    def prepare(self, workload: str, plan: Plan, batch_size: int, image_size: int, seed: int,
                weights: Path | None) -> Prepared:
        check_supported(plan)
        device = MlxDevice(plan.device)
        mx.set_default_device(device.mlx_device)
        task = build_task(workload, plan, seed, weights)
        # Images in the plan's dtype; labels and token ids stay integers.
        batch = tuple(array.astype(DTYPES[plan.precision]) if mx.issubdtype(array.dtype, mx.floating) else array
                      for array in task.make_batch(batch_size, image_size, seed))
        mx.eval(batch, task.model.state)  # built before the clock starts, not inside the first step
        if plan.device != "cpu":
            mx.reset_peak_memory()
        return Prepared(MlxSession(task, plan, batch), device, workload, image_size)

    def flops_per_sample(self, prepared: Prepared) -> tuple[float, float]:
        from batchmark.frameworks.mlx_flops import count_flops

        return count_flops(implementation("mlx", prepared.workload), prepared.image_size)
