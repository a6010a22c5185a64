"""Tuning a user's own PyTorch model in a process of its own: `python -m batchmark.acceleration.factory SPEC REPLY`.

`batchmark.tune_workloads(["module:function"])` writes SPEC (the reference and every tuning setting) and reads REPLY (the
tuned plan, or a one-line failure). The factory takes no arguments and returns (model, loss_fn, example_batch)
or (model, loss_fn, example_batch, optimizer); without an optimizer, Adam with lr 1e-3 is used, as in
batchmark's workloads. The plan is found by accelerate() and cached under the model's key, so that
`accelerate(..., tune=False)` in the user's training script applies it without measuring. News lines go to
stdout, which the parent passes on.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from batchmark.errors import BatchmarkError, TuneFailed, UsageError


def load_factory(reference: str):
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"{reference}: cannot import {module_name!r} ({error})") from None
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise UsageError(f"{reference}: {module_name} has no function {function_name!r}")
    return factory


def tune_factory(spec: dict) -> dict:
    import torch

    from batchmark.acceleration import accelerate, model_key
    from batchmark.tune import cache
    from batchmark.tune.search import SearchSettings

    torch.manual_seed(spec["seed"])  # the factory's random weights and example batch, as --seed says
    built = load_factory(spec["reference"])()
    if not isinstance(built, (tuple, list)) or len(built) not in (3, 4):
        raise UsageError(f"{spec['reference']} must return (model, loss_fn, example_batch[, optimizer]), "
                         f"got {type(built).__name__}")
    model, loss_fn, batch = built[:3]
    optimizer = built[3] if len(built) == 4 else torch.optim.Adam(model.parameters(), lr=1e-3)
    settings = SearchSettings(loss_tolerance=spec["loss_tolerance"], budget_factor=spec["budget_factor"],
                              budget_seconds=spec["budget_seconds"])
    step = accelerate(model, optimizer, loss_fn, batch, force=spec["force"], settings=settings,
                      say=lambda line: print(line, flush=True))
    tuned = cache.load(model_key(model, batch))
    if tuned is None:
        raise TuneFailed(f"{spec['reference']}: no tuned plan was cached")
    return {"tuned": tuned.model_dump(mode="json"), "cached": step.plan.source == "cached", "failure": None}


def main(argv: list[str]) -> int:
    spec_path, reply_path = Path(argv[0]), Path(argv[1])
    try:
        reply = tune_factory(json.loads(spec_path.read_text()))
    except BatchmarkError as error:
        reply = {"tuned": None, "cached": False, "failure": str(error)}
    except Exception as error:  # the user's factory or model raised: their bug, reported in one line
        text = f"{type(error).__name__}: {error}".splitlines()[0]
        reply = {"tuned": None, "cached": False, "failure": f"your model failed: {text}"}
    reply_path.write_text(json.dumps(reply))
    return 0 if reply["failure"] is None else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
