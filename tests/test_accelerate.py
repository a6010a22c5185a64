"""accelerate(): tuning on copies, the chosen plan on the real model, cached plans, and falling back."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest
import torch
from torch import nn

from batchmark.acceleration import accelerate, model_key
from batchmark.plans import Plan
from batchmark.tune import cache
from batchmark.tune.search import SearchSettings
from tests.conftest import REPO


def tiny_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 4))


def batch():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(8, 3, 16, 16, generator=generator), torch.randint(0, 4, (8,), generator=generator)


def test_tuning_measures_on_copies_and_the_step_trains_the_real_model():
    model = tiny_cnn()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in model.parameters()]
    step = accelerate(model, optimizer, nn.CrossEntropyLoss(), batch())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters())), "tuning trained the user's weights"
    assert not optimizer.state, "tuning stepped the user's optimizer"
    assert step.plan.source == "measured" and step.plan.speedup > 0 and step.plan.seconds_per_step > 0
    losses = [step(batch()).item() for _ in range(5)]
    assert not all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0]
    # Every switch is accounted for: measured and rejected, or not measured with the reason.
    assert any("not measured" in line for line in step.plan.rejected)


def test_a_tuned_plan_is_cached_and_applied_without_measuring():
    model = tiny_cnn()
    first = accelerate(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), batch())
    again_model = tiny_cnn()
    again = accelerate(again_model, torch.optim.SGD(again_model.parameters(), lr=0.1), nn.CrossEntropyLoss(), batch(),
                       tune=False)
    assert again.plan.source == "cached" and again.plan.plan == first.plan.plan


def test_tune_false_without_a_cached_plan_applies_the_default_plan():
    model = tiny_cnn()
    step = accelerate(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), batch(), tune=False)
    assert step.plan.source == "default" and step.plan.speedup is None
    assert step.plan.plan == Plan("torch", device="cpu")  # plain fp32 eager on the best device (here the CPU)
    assert math.isfinite(step(batch()).item())


class Uncompilable(nn.Module):
    """A model whose forward dynamo will not trace: torch.compile would silently run it eagerly."""

    def __init__(self):
        super().__init__()
        self.net = tiny_cnn()

    @torch._dynamo.disable
    def forward(self, x):
        return self.net(x)


def test_a_plan_that_cannot_compile_this_model_falls_back_with_a_warning():
    model = Uncompilable()
    compiled = Plan("torch", compile="default")
    key = model_key(model, batch())
    cache.store(cache.TunedPlan(key=key, plan=compiled, baseline_plan=Plan("torch"),
                                baseline_seconds=1.0, seconds=0.5, speedup=2.0, tuned_at="2026-11-28T00:00:00+00:00",
                                tuning_seconds=1.0, budget_seconds=3.0))
    step = accelerate(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), batch(), tune=False)
    assert step.plan.plan == compiled
    with pytest.warns(RuntimeWarning, match="produced no graph.*falling back to 'torch cpu fp32 compile=off"):
        loss = step(batch())
    assert math.isfinite(loss.item())
    assert step.plan.source == "fallback" and step.plan.plan.compile == "off"
    assert math.isfinite(step(batch()).item())


class BrokenWhenCompiled(nn.Module):
    """Correct eagerly, NaN when compiled: what the numerics guard is for."""

    def __init__(self):
        super().__init__()
        self.net = tiny_cnn()

    def forward(self, x):
        out = self.net(x)
        if torch.compiler.is_compiling():
            out = out * float("nan")
        return out


def test_the_numerics_guard_rejects_a_faster_plan_that_breaks_training():
    model = BrokenWhenCompiled()
    step = accelerate(model, torch.optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), batch(),
                      settings=SearchSettings(budget_seconds=600))
    assert step.plan.plan.compile == "off"
    assert any("torch.compile default" in line and "numerics" in line and "NaN" in line for line in step.plan.rejected)


def test_the_readme_example_runs_as_written():
    example = REPO / "examples" / "accelerate_small_cnn.py"
    assert example.read_text().strip() in (REPO / "README.md").read_text()
    completed = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    assert "plan: torch cpu" in completed.stdout and "epoch 2: loss" in completed.stdout
