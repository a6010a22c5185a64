"""PyTorch: turn a plan into a runnable training step. Imported only inside a worker process.

The workload's task knows nothing of devices, precision, layout or compilation; everything a plan
switches is applied here, so that two plans of one workload run exactly the same model code. The plan's
runtime switches are the parent's to set (`batchmark.frameworks.runtime`), all but `optimizer`: how Adam runs
is chosen when a task builds it (`task.adam`), inside `optimizer_implementation` here.
"""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import torch

from batchmark.errors import Unsupported
from batchmark.plans import DeviceSupport, Plan, supported_device
from batchmark.frameworks import Prepared, process_peak_rss
from batchmark.frameworks.torch_flops import cached_flops_per_sample
from batchmark.machine import cpu_has_fast_bf16
from batchmark.workloads.registry import implementation
from batchmark.workloads.attention import attention_implementation
from batchmark.workloads.torch.task import (TorchTask, backward, optimized_parameters, optimizer_implementation,
                                            runs_as)

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class TorchDevice:
    """Synchronization, autocast and memory accounting for one torch device."""

    def __init__(self, name: str):
        self.name = name
        self.torch_device = torch.device(name)

    def synchronize(self) -> None:
        if self.name == "cuda":
            torch.cuda.synchronize()
        elif self.name == "mps":
            torch.mps.synchronize()
        # CPU kernels run synchronously: there is nothing to wait for.

    def description(self) -> str:
        if self.name == "cuda":
            return torch.cuda.get_device_name()
        return self.name

    def reset_peak_memory(self) -> None:
        if self.name == "cuda":
            torch.cuda.reset_peak_memory_stats()

    def peak_memory(self) -> tuple[int | None, str]:
        if self.name == "cuda":
            return torch.cuda.max_memory_allocated(), "CUDA max allocated"
        if self.name == "mps":
            return torch.mps.driver_allocated_memory(), "MPS driver allocated at end"
        return process_peak_rss()


def available_devices() -> list[DeviceSupport]:
    has_compiler = shutil.which("cc") is not None or shutil.which("gcc") is not None
    devices = [DeviceSupport("cpu", bf16=cpu_has_fast_bf16(), fp16=False, tf32=False, compile=has_compiler)]
    if torch.cuda.is_available():
        major, _ = torch.cuda.get_device_capability()
        devices.append(DeviceSupport("cuda", bf16=torch.cuda.is_bf16_supported(), fp16=True, tf32=major >= 8,
                                     compile=True))
    if torch.backends.mps.is_available():
        # torch.compile on MPS is still experimental; the accelerated plan stays eager there.
        devices.append(DeviceSupport("mps", bf16=False, fp16=True, tf32=False, compile=False))
    return devices


def check_supported(plan: Plan) -> None:
    device = supported_device(plan, available_devices(), "torch")
    if plan.compile != "off" and not device.compile:
        raise Unsupported(f"torch.compile is not supported on '{plan.device}' here")


def set_float32_math(plan: Plan) -> None:
    """fp32 means fp32: PyTorch lets cuDNN use TF32 by default, which would flatter the fp32 plan."""
    allow_tf32 = plan.precision == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = allow_tf32
    torch.backends.cudnn.allow_tf32 = allow_tf32
    torch.set_float32_matmul_precision("high" if allow_tf32 else "highest")


def load_weights(task: TorchTask, path: Path) -> None:
    """A state dict for the one trainable network, or {network name: state dict} for several."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if set(state) <= set(task.networks) and all(isinstance(value, dict) for value in state.values()):
        for name, network_state in state.items():
            task.networks[name].load_state_dict(network_state)
        return
    trainable = [net for net in task.networks.values() if any(p.requires_grad for p in net.parameters())]
    if len(trainable) != 1:
        raise ValueError(f"{path}: give a dict keyed by network ({', '.join(task.networks)}) for this workload")
    trainable[0].load_state_dict(state)


class TorchSession:
    """One prepared (workload, plan): the step the engine times."""

    def __init__(self, task: TorchTask, plan: Plan, device: TorchDevice, batch: tuple[torch.Tensor, ...]):
        self.task = task
        self.device = device
        self.batch = batch
        dtype = AUTOCAST_DTYPES.get(plan.precision)
        self.autocast = (lambda: torch.autocast(device.name, dtype=dtype)) if dtype else contextlib.nullcontext
        # fp16 has too little range for gradients; bf16 has fp32's range and needs no scaling.
        self.scaler = torch.amp.GradScaler(device.name) if plan.precision == "fp16" else None
        self._parameters: dict[int, list[torch.nn.Parameter]] = {}
        self._must_compile = plan.compile != "off"
        self._optimizer_to_check = None if plan.optimizer == "default" else plan.optimizer

    def _parameters_of(self, optimizer: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
        key = id(optimizer)  # cached: the lists are rebuilt in Python otherwise, inside every timed step
        if key not in self._parameters:
            self._parameters[key] = optimized_parameters(optimizer)
        return self._parameters[key]

    def step(self) -> torch.Tensor:
        with self.autocast():
            objectives = self.task.objectives(self.batch)
        backward(objectives, scale=self.scaler.scale if self.scaler else lambda loss: loss,
                 parameters_of=self._parameters_of)
        if self._optimizer_to_check:  # checked once, before any update: the plan's optimizer must be the one that runs
            if not all(runs_as(objective.optimizer, self._optimizer_to_check) for objective in objectives):
                raise Unsupported(f"optimizer={self._optimizer_to_check}: this workload builds an optimizer without "
                                  f"batchmark.workloads.torch.task.adam(), so the switch would not apply")
            self._optimizer_to_check = None
        for objective in objectives:
            if self.scaler:
                self.scaler.step(objective.optimizer)
            else:
                objective.optimizer.step()
        if self.scaler:
            self.scaler.update()
        if self._must_compile:  # checked once, after the first step: a compiled plan must really compile
            if compiled_graph_count() == 0:
                raise Unsupported("torch.compile produced no graph: this plan would silently run eagerly")
            self._must_compile = False
        return sum(objective.loss.detach().float() for objective in objectives)

    def synchronize(self) -> None:
        self.device.synchronize()

    def read_loss(self, handle: torch.Tensor) -> float:
        return float(handle.item())


def compile_networks(task: TorchTask, mode: str) -> None:
    # Patch `forward` rather than call nn.Module.compile(): in torch 2.13 the latter wraps `_call_impl`,
    # which dynamo skips, so nothing is compiled and the "compiled" plan silently runs eagerly.
    for network in task.networks.values():
        network.forward = torch.compile(network.forward, mode=None if mode == "default" else mode)


def compiled_graph_count() -> int:
    """Graphs dynamo captured in this process. Not frames: a frame whose only call is a
    `torch.compiler.disable`d function converts "ok" into no graph at all."""
    from torch._dynamo.utils import counters

    return counters["stats"]["unique_graphs"]



class TorchBackend:
    name = "torch"

    def version(self) -> str:
        return torch.__version__

    def devices(self) -> list[DeviceSupport]:
        return available_devices()

    def threads(self) -> int:
        return torch.get_num_threads()

    def prepare(self, workload: str, plan: Plan, batch_size: int, image_size: int, seed: int,
                weights: Path | None, data_parallel: bool = False) -> Prepared:
        """`data_parallel`: this process is one rank of a torchrun group; its network is wrapped in DDP, its
        batch made from seed + rank, and its steps end with every rank synchronized (torch_distributed.py)."""
        check_supported(plan)
        if plan.threads is not None:
            torch.set_num_threads(plan.threads)
        set_float32_math(plan)
        rank = backend = None
        if data_parallel:
            from batchmark.frameworks.torch_distributed import join_group

            rank, backend = join_group(plan.device)
        factory = implementation("torch", workload)
        torch.manual_seed(seed)  # the same initial weights for every plan
        with optimizer_implementation(plan.optimizer), attention_implementation(plan.attention):
            task: TorchTask = factory()
        if weights is not None:
            load_weights(task, weights)
        device = TorchDevice(plan.device)
        memory_format = torch.channels_last if plan.channels_last else torch.contiguous_format
        for network in task.networks.values():
            network.to(device=device.torch_device, memory_format=memory_format)
        task.set_modes()
        if data_parallel:
            from batchmark.frameworks.torch_distributed import wrap_trained_network

            wrap_trained_network(task, plan.device)
        data_seed = seed + (rank.rank if rank else 0)  # each rank its own data: DDP must average real differences
        generator = torch.Generator(device=device.torch_device).manual_seed(data_seed)
        batch = tuple(
            t.contiguous(memory_format=memory_format) if t.dim() == 4 else t
            for t in task.make_batch(batch_size, image_size, generator)
        )
        if plan.compile != "off":
            compile_networks(task, plan.compile)
        device.reset_peak_memory()
        session = TorchSession(task, plan, device, batch)
        if data_parallel:
            from batchmark.frameworks.torch_distributed import DataParallelSession

            session = DataParallelSession(session, backend)
        return Prepared(session, device, workload, image_size)

    def flops_per_sample(self, prepared: Prepared) -> tuple[float, float]:
        """Counted after the timed steps and the peak-memory reading: counting builds a model of its own."""
        factory = implementation("torch", prepared.workload)
        return cached_flops_per_sample(factory, prepared.session.task, prepared.image_size)
