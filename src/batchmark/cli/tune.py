"""`batchmark calibrate` and `batchmark tune`: the machine's limit, and the fastest plan measured against it."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from batchmark.cli.app import app, console, say, split_list
from batchmark.errors import EXIT_FAILED


@app.command()
def calibrate(
    force: Annotated[bool, typer.Option("--force", help="Measure again even if this machine is calibrated.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")] = False,
    framework: Annotated[str, typer.Option(help="Whose kernels measure it: torch (the hardware's peak) or mlx "
                                                "(MLX's own, with each BLAS it can be given).")] = "torch",
) -> None:
    """Measure this machine's peak FLOP/s per device and precision (a large matmul and a 3x3 conv); cached."""
    from batchmark.api.tuning import calibrate as measure_peaks
    from batchmark.cli.render_tuning import print_calibration
    from batchmark.cli.progress import ProgressEvents

    found, _ = measure_peaks(force=force, events=ProgressEvents(), framework=framework)
    if as_json:
        print(found.model_dump_json(indent=2))
    else:
        print_calibration(found, console)


@app.command()
def tune(
    workloads: Annotated[Optional[list[str]], typer.Argument(
        help="Workloads to tune (default: all), or your own model as module:function (a factory returning "
             "model, loss function, example batch and optionally an optimizer).")] = None,
    framework: Annotated[str, typer.Option(help="Comma-separated frameworks: torch, tensorflow, jax, mlx.")] = "torch",
    batch_size: Annotated[Optional[int], typer.Option(help="Tune for this batch size instead of the standard one.")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Tune for this image size instead of the standard one.")] = None,
    budget: Annotated[str, typer.Option(help="Tuning budget: a multiple of one standard measurement of one "
                                             "plan (5x) or seconds (600s).")] = "5x",
    loss_tolerance: Annotated[float, typer.Option(help="Largest relative gap of the loss to fp32's after the short "
                                                       "trial's steps.")] = 0.05,
    force: Annotated[bool, typer.Option("--force", help="Tune again from the start, even if a tuned plan is "
                                                        "cached; without it a search that ran out of budget goes "
                                                        "on where it stopped.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the weights and the synthetic data.")] = 0,
) -> None:
    """Find the fastest plan for each workload here by measuring it; cache it for `run --plan tuned`."""
    from batchmark.api.tuning import tune_workloads
    from batchmark.cli.progress import ProgressEvents

    outcomes = tune_workloads(workloads, split_list(framework), batch_size=batch_size, image_size=image_size,
                              budget=budget, loss_tolerance=loss_tolerance, force=force, seed=seed,
                              events=ProgressEvents())
    if any(outcome.failure for outcome in outcomes):
        say(f"{sum(1 for outcome in outcomes if outcome.failure)} of {len(outcomes)} not tuned")
        raise typer.Exit(EXIT_FAILED)
