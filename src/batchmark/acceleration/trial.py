"""One plan applied to a user's PyTorch model: the step accelerate() returns, and the in-process trials
that choose it.

Trials run on deep copies of the model and a fresh optimizer of the same kind and settings, so that
tuning never changes the user's weights or optimizer state; only the chosen plan touches the real ones.
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any, Callable, Sequence

import torch

from batchmark.plans import Plan
from batchmark.engine.timing import StopRule, measure
from batchmark.frameworks.torch_backend import AUTOCAST_DTYPES, TorchDevice, compiled_graph_count, set_float32_math
from batchmark.tune.search import Trial


def model_has_convolutions(model: torch.nn.Module) -> bool:
    return any(isinstance(module, torch.nn.Conv2d) for module in model.modules())


def clone_optimizer(optimizer: torch.optim.Optimizer, original: torch.nn.Module,
                    copy_of: torch.nn.Module) -> torch.optim.Optimizer:
    """A fresh optimizer of the same class and per-group settings, over the copy's parameters."""
    mapping = {id(p): q for p, q in zip(original.parameters(), copy_of.parameters())}
    groups = []
    for group in optimizer.param_groups:
        missing = [p for p in group["params"] if id(p) not in mapping]
        if missing:
            raise ValueError("the optimizer holds parameters that are not the model's; accelerate() needs an "
                             "optimizer over model.parameters()")
        groups.append({**group, "params": [mapping[id(p)] for p in group["params"]]})
    return type(optimizer)(groups)


def move_optimizer_state(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    for state in optimizer.state.values():
        for key, value in state.items():
            if isinstance(value, torch.Tensor) and value.device != device and value.dim() > 0:
                state[key] = value.to(device)


class PlanStep:
    """model + optimizer + loss_fn under one plan: device, autocast precision, memory layout, compile."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable, plan: Plan):
        set_float32_math(plan)
        self.plan, self.model, self.optimizer, self.loss_fn = plan, model, optimizer, loss_fn
        self.device = TorchDevice(plan.device)
        self.memory_format = torch.channels_last if plan.channels_last else torch.contiguous_format
        model.to(device=self.device.torch_device, memory_format=self.memory_format)
        move_optimizer_state(optimizer, self.device.torch_device)
        dtype = AUTOCAST_DTYPES.get(plan.precision)
        self.autocast = (lambda: torch.autocast(plan.device, dtype=dtype)) if dtype else contextlib.nullcontext
        self.scaler = torch.amp.GradScaler(plan.device) if plan.precision == "fp16" else None
        self.forward = model
        if plan.compile != "off":
            self.graphs_before = compiled_graph_count()
            # The forward method, not the module: in torch 2.13 compiling the module wraps `_call_impl`, which
            # dynamo skips, and the "compiled" step would silently run eagerly (the check below catches that).
            self.forward = torch.compile(model.forward, mode=None if plan.compile == "default" else plan.compile)
        self._checked = plan.compile == "off"

    def place(self, batch: Sequence[Any]) -> list[Any]:
        placed = []
        for item in batch:
            if isinstance(item, torch.Tensor):
                item = item.to(self.device.torch_device, non_blocking=True)
                if item.dim() == 4 and self.plan.channels_last:
                    item = item.contiguous(memory_format=torch.channels_last)
            placed.append(item)
        return placed

    def __call__(self, batch: Sequence[Any]) -> torch.Tensor:
        *inputs, target = self.place(batch)
        with self.autocast():
            output = self.forward(*inputs)
        loss = self.loss_fn(output.float() if torch.is_tensor(output) and output.is_floating_point() else output,
                            target)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler:
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            loss.backward()
            self.optimizer.step()
        if not self._checked:
            if compiled_graph_count() == self.graphs_before:
                raise RuntimeError("torch.compile produced no graph for this model")
            self._checked = True
        return loss.detach()


class _Session:
    """The engine's timing Session over a PlanStep and one fixed batch."""

    def __init__(self, step: PlanStep, batch: Sequence[Any]):
        self.step_fn, self.batch = step, step.place(batch)

    def step(self):
        return self.step_fn(self.batch)

    def synchronize(self) -> None:
        self.step_fn.device.synchronize()

    def read_loss(self, handle) -> float:
        return float(handle.item())


def in_process_measure(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
                       batch: Sequence[Any], seed: int = 0):
    """A tuner `measure` that runs each plan on copies of the user's model, in this process."""

    def run(plan: Plan, rule: StopRule, timeout: float | None, final: bool) -> Trial:
        start = time.monotonic()
        torch.manual_seed(seed)  # dropout and the like draw the same numbers in every trial
        try:
            twin = copy.deepcopy(model)
            step = PlanStep(twin, clone_optimizer(optimizer, model, twin), loss_fn, plan)
            result = measure(_Session(step, batch), rule)
        except Exception as error:  # a plan this model cannot run is a failed trial, not a crash
            text = f"{type(error).__name__}: {error}".splitlines()[0]
            return Trial(plan, [], [], [], time.monotonic() - start, failure=text)
        finally:
            torch._dynamo.reset()  # each compiled trial starts from its own graphs
        return Trial(plan, result.step_seconds, result.losses, result.warmup_seconds, time.monotonic() - start,
                     stopped_by=result.stopped_by)
    return run
