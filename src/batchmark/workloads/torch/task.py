"""The interface every PyTorch workload implements, and the generic image-classifier task.

A task owns its networks and optimizers and says what one training step's losses are. It does not know
about devices, precision, memory layout or compilation: the torch backend applies the plan to
``task.networks`` and wraps ``objectives`` in autocast, so every plan runs the same model code.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from contextvars import ContextVar
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Objective:
    """A loss and the optimizer that follows it; backward is restricted to that optimizer's parameters."""

    loss: torch.Tensor
    optimizer: torch.optim.Optimizer


class TorchTask(ABC):
    #: Every network that runs in a step, trainable or frozen; the backend moves, lays out and compiles them.
    networks: dict[str, nn.Module]

    @abstractmethod
    def make_batch(self, batch_size: int, image_size: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        """Synthetic inputs on `generator.device`, from its seed; made once, reused every step."""

    @abstractmethod
    def objectives(self, batch: tuple[torch.Tensor, ...]) -> list[Objective]:
        """Forward pass and losses of one training step (the backend runs backward and the optimizers)."""

    def set_modes(self) -> None:
        """Train/eval mode of every network, set once before the first step."""
        for network in self.networks.values():
            network.train()



# How torch.optim.Adam runs its update, by the plan's `optimizer` switch. "default" passes neither flag, so torch
# picks (a loop over tensors on CPU, foreach kernels on CUDA); Adam keeps the flags in each param group and reads
# them at every step.
ADAM_IMPLEMENTATIONS = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}
_adam_implementation: ContextVar[str] = ContextVar("adam_implementation", default="default")


@contextlib.contextmanager
def optimizer_implementation(name: str):
    """Tasks built inside get Adam with this implementation: how the backend applies a plan's `optimizer` without
    every workload's factory taking the plan."""
    token = _adam_implementation.set(name)
    try:
        yield
    finally:
        _adam_implementation.reset(token)


def adam(parameters, **settings) -> torch.optim.Adam:
    """torch.optim.Adam with the implementation the plan asks for; every task builds its Adam with this."""
    return torch.optim.Adam(parameters, **settings, **ADAM_IMPLEMENTATIONS[_adam_implementation.get()])


def adamw(parameter_groups, **settings) -> torch.optim.AdamW:
    """torch.optim.AdamW (decoupled weight decay) with the implementation the plan asks for, as `adam`."""
    return torch.optim.AdamW(parameter_groups, **settings, **ADAM_IMPLEMENTATIONS[_adam_implementation.get()])


def runs_as(optimizer: torch.optim.Optimizer, implementation: str) -> bool:
    """Whether every param group of the optimizer carries the implementation's flags."""
    wanted = ADAM_IMPLEMENTATIONS[implementation]
    return all(group.get(flag) == value for group in optimizer.param_groups for flag, value in wanted.items())


def optimized_parameters(optimizer: torch.optim.Optimizer) -> list[nn.Parameter]:
    return [p for group in optimizer.param_groups for p in group["params"] if p.requires_grad]


def backward(objectives: list[Objective], scale=lambda loss: loss, parameters_of=optimized_parameters) -> None:
    """Each loss's gradients go to its own optimizer's parameters only, as TensorFlow's
    `tape.gradient(loss, model.trainable_variables)` does; the graph is kept until the last loss."""
    last = len(objectives) - 1
    for index, objective in enumerate(objectives):
        objective.optimizer.zero_grad(set_to_none=True)
        scale(objective.loss).backward(inputs=parameters_of(objective.optimizer), retain_graph=index < last)


def random_images(batch_size: int, image_size: int, generator: torch.Generator) -> torch.Tensor:
    """Images in [0, 1], shape (B, 3, S, S), made on the generator's device."""
    return torch.rand(batch_size, 3, image_size, image_size, generator=generator, device=generator.device)


class ClassifierTask(TorchTask):
    """Image classification with cross-entropy and Adam: the seed's ResNet, MobileNet and DenseNet steps."""

    def __init__(self, model: nn.Module, num_classes: int, learning_rate: float = 1e-3,
                 optimizer: torch.optim.Optimizer | None = None):
        self.model = model
        self.num_classes = num_classes
        self.networks = {"model": model}
        self.optimizer = optimizer or adam(model.parameters(), lr=learning_rate)

    def make_batch(self, batch_size, image_size, generator):
        labels = torch.randint(0, self.num_classes, (batch_size,), generator=generator, device=generator.device)
        return random_images(batch_size, image_size, generator), labels

    def objectives(self, batch):
        images, labels = batch
        logits = self.model(images)  # (B, classes)
        # Softmax + cross-entropy in fp32 even under autocast, as Keras's mixed-precision policy does.
        return [Objective(F.cross_entropy(logits.float(), labels), self.optimizer)]
