"""`batchmark.accelerate(model, optimizer, loss_fn, example_batch)`: a training step with the measured-fastest plan.

    step = batchmark.accelerate(model, optimizer, loss_fn, (images, labels))
    for images, labels in loader:
        loss = step((images, labels))

The batch is a tuple whose last item is the target and the rest the model's inputs: the step computes
`loss_fn(model(*inputs), target)`, runs backward and `optimizer.step()`, and returns the loss (detached, on
the device: call `.item()` when you need the number). Inputs are moved to the plan's device for you.

With `tune=True` (the default) the plans are measured on copies of the model (the weights and optimizer
you passed are not trained by the tuning), the fastest plan whose loss agrees with fp32 is chosen, and it
is cached per (machine fingerprint, torch version, model, batch shapes). With `tune=False` a cached plan is
applied without measuring, or, when none is cached, the default plan: plain fp32 eager on the best device.
A plan that fails on the real model falls back, with a warning, to the next that works.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import torch

from batchmark.acceleration.trial import PlanStep, in_process_measure, model_has_convolutions
from batchmark.plans import DeviceSupport, Plan
from batchmark.engine.plan import baseline
from batchmark.tune import cache
from batchmark.tune.search import Search, SearchSettings
from batchmark.tune.space import search_space


@dataclass(frozen=True)
class AcceleratedPlan:
    plan: Plan  # every switch: device, precision, compile, channels_last
    source: Literal["measured", "cached", "default", "fallback"]  # tuned now, tuned before, nothing measured, or
    # the next plan after the chosen one failed on the real model
    # Baseline s/step / this plan's s/step, both measured at the standard step count; None when nothing was
    # measured that way (a plan cached by an older batchmark, whose speedup was only a screening estimate).
    speedup: float | None
    seconds_per_step: float | None
    baseline_seconds_per_step: float | None
    rejected: list[str] = field(default_factory=list)  # "compile=default: 1.3x slower", "bf16: numerics ..."
    speedup_ci: tuple[float, float] | None = None  # the speedup's 95% bootstrap CI

    def __str__(self) -> str:
        gain = f", {self.speedup:.2f}x the plain step" if self.speedup else ""
        if self.speedup_ci:
            gain += f" (95% CI {self.speedup_ci[0]:.2f}-{self.speedup_ci[1]:.2f})"
        return f"{self.plan.describe()} ({self.source}{gain})"


class AcceleratedStep:
    """The callable accelerate() returns; `plan` says what was chosen and what it measured."""

    def __init__(self, step: PlanStep, plan: AcceleratedPlan, fallbacks: list[Plan], model, optimizer, loss_fn):
        self._step, self.plan, self._fallbacks = step, plan, fallbacks
        self._model, self._optimizer, self._loss_fn = model, optimizer, loss_fn
        self._proven = False

    def __call__(self, batch: Sequence[Any]) -> torch.Tensor:
        if self._proven:
            return self._step(batch)
        while True:  # the first real step proves the plan on the real model, or falls back
            try:
                loss = self._step(batch)
                self._proven = True
                return loss
            except Exception as error:
                if not self._fallbacks:
                    raise
                failed, plan = self._step.plan, self._fallbacks.pop(0)
                warnings.warn(f"batchmark.accelerate: plan '{failed.describe()}' failed on this model "
                              f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
                              f"falling back to '{plan.describe()}'", RuntimeWarning, stacklevel=2)
                torch._dynamo.reset()
                self._step = PlanStep(self._model, self._optimizer, self._loss_fn, plan)
                self.plan = AcceleratedPlan(plan, "fallback", None, None, None, self.plan.rejected)


def available_devices() -> dict[str, DeviceSupport]:
    from batchmark.frameworks.torch_backend import available_devices as probe

    return {device.name: device for device in probe()}


def model_key(model: torch.nn.Module, batch: Sequence[Any]) -> cache.TuneKey:
    from batchmark.engine.calibration import fingerprint_hash
    from batchmark.machine import fingerprint

    parameters = sum(p.numel() for p in model.parameters())
    shapes = ",".join("x".join(map(str, item.shape)) if isinstance(item, torch.Tensor) else type(item).__name__
                      for item in batch)
    kind = type(model)
    return cache.TuneKey(fingerprint=fingerprint_hash(fingerprint()), framework="torch",
                         framework_version=torch.__version__,
                         workload=f"{kind.__module__}.{kind.__qualname__}:{parameters}", batch_shape=shapes)


def accelerate(model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
               example_batch: Sequence[Any], *, tune: bool = True, force: bool = False,
               settings: SearchSettings | None = None, say: Callable[[str], None] = lambda line: None) -> AcceleratedStep:
    """A step callable running the measured-fastest plan for this model here (see the module docstring)."""
    from batchmark.engine import calibration
    from batchmark.machine import cpu_info
    from batchmark.tune.workload import tuned_plan

    devices = available_devices()
    default = baseline("torch", next(devices[name] for name in ("cuda", "mps", "cpu") if name in devices))
    key = model_key(model, example_batch)
    found = None if force else cache.load(key)
    if found is not None:
        alike = found.measured_alike or found.plan == found.baseline_plan
        chosen = AcceleratedPlan(found.plan, "cached", found.speedup if alike else None, found.seconds,
                                 found.baseline_seconds if alike else None, _rejections(found), found.speedup_ci)
    elif not tune:
        chosen = AcceleratedPlan(default, "default", None, None, None)
    else:
        cpu = cpu_info()
        space = search_space("torch", devices, calibration.cached(), cpu.logical_cores or 1, cpu.physical_cores or 1)
        _restrict_to_this_process(space, model)
        # Runtime switches live in a worker's environment, set before the framework loads: not in this process.
        in_process = dataclasses.replace(settings or SearchSettings(), runtime=False)
        result = Search(space, in_process_measure(model, optimizer, loss_fn, example_batch), in_process,
                        say=say).run()
        found = tuned_plan(result, key)
        cache.store(found)
        chosen = AcceleratedPlan(result.chosen.plan, "measured", result.speedup, result.chosen_seconds,
                                 result.baseline_seconds, _rejections(found), result.speedup_ci)
    fallbacks = [plan for plan in (dataclasses.replace(chosen.plan, compile="off"), default)
                 if plan != chosen.plan]
    return AcceleratedStep(PlanStep(model, optimizer, loss_fn, chosen.plan), chosen, fallbacks, model, optimizer,
                           loss_fn)


def _restrict_to_this_process(space, model: torch.nn.Module) -> None:
    """In the user's process, a thread count is global state: it is not the step's to change. A model without
    convolutions has no memory layout to switch."""
    kept = [plan for plan in space.eager if plan.threads is None]
    if len(kept) < len(space.eager):
        space.pruned.append(("threads", "accelerate() runs in your process, whose thread count is yours to set"))
    if not model_has_convolutions(model):
        kept = [plan for plan in kept if not plan.channels_last]
        space.pruned.append(("channels_last", "the model has no 2-D convolutions"))
    space.eager = kept


def _rejections(tuned: cache.TunedPlan) -> list[str]:
    from batchmark.tune.workload import switches

    base = tuned.baseline_plan
    lines = []
    for candidate in tuned.candidates:
        if candidate.verdict in ("rejected", "failed"):
            lines.append(f"{switches(candidate.plan, base)}: {candidate.verdict}, {candidate.reason}")
    lines += [f"{switch}: not measured, {reason}" for switch, reason in tuned.pruned]
    return lines


__all__ = ["accelerate", "AcceleratedStep", "AcceleratedPlan"]
