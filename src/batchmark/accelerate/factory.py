"""`batchmark tune module:function`: tune a user's own PyTorch model, in a process of its own.

The factory takes no arguments and returns (model, loss_fn, example_batch) or (model, loss_fn,
example_batch, optimizer); without an optimizer, Adam with lr 1e-3 is used, as in batchmark's workloads.
The plan is found by accelerate() and cached under the model's key, so that `accelerate(..., tune=False)`
in the user's training script applies it without measuring.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rich.console import Console


def load_factory(reference: str):
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise SystemExit(f"error: {reference}: cannot import {module_name!r} ({error})")
    factory = getattr(module, function_name, None)
    if not callable(factory):
        raise SystemExit(f"error: {reference}: {module_name} has no function {function_name!r}")
    return factory


def main(argv: list[str]) -> int:
    import torch

    from batchmark.accelerate import accelerate
    from batchmark.cli.tune import print_tuning
    from batchmark.tune import cache
    from batchmark.tune.search import SearchSettings, TuneFailed

    parser = argparse.ArgumentParser(prog="batchmark tune module:function")
    parser.add_argument("reference")
    parser.add_argument("--loss-tolerance", type=float, default=0.05)
    parser.add_argument("--force", action="store_true")
    options = parser.parse_args(argv)
    built = load_factory(options.reference)()
    if not isinstance(built, (tuple, list)) or len(built) not in (3, 4):
        raise SystemExit(f"error: {options.reference} must return (model, loss_fn, example_batch[, optimizer]), "
                         f"got {type(built).__name__}")
    model, loss_fn, batch = built[:3]
    optimizer = built[3] if len(built) == 4 else torch.optim.Adam(model.parameters(), lr=1e-3)
    console = Console(stderr=True)
    try:
        step = accelerate(model, optimizer, loss_fn, batch, force=options.force,
                          settings=SearchSettings(loss_tolerance=options.loss_tolerance),
                          say=lambda line: console.print(f"  {line}", highlight=False, markup=False))
    except TuneFailed as error:
        console.print(f"error: {options.reference}: {error}", highlight=False, markup=False)
        return 1
    from batchmark.accelerate import model_key

    tuned = cache.load(model_key(model, batch))
    print_tuning(options.reference, "torch", tuned)
    console.print(f"plan: {step.plan}", highlight=False, markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
