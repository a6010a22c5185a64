"""`batchmark calibrate` and `batchmark tune`: the machine's limit, and the fastest plan measured against it."""

from __future__ import annotations

import re
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from batchmark.cli.app import app, console, errors, fail_usage, load_plugins, split_list
from batchmark.errors import UsageError
from batchmark.errors import UnknownNameError


def format_flops(value: float) -> str:
    return f"{value / 1e12:.3f} TFLOP/s" if value >= 1e12 else f"{value / 1e9:.1f} GFLOP/s"


@app.command()
def calibrate(
    force: Annotated[bool, typer.Option("--force", help="Measure again even if this machine is calibrated.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the calibration as JSON.")] = False,
) -> None:
    """Measure this machine's peak FLOP/s per device and precision (a large matmul and a 3x3 conv); cached."""
    from batchmark.engine import calibration

    try:
        found = None if force else calibration.cached()
        if found is None:
            errors.print("calibrating: a matmul and a 3x3 convolution per device and precision (about 10 s on a CPU)")
            found = calibration.calibrate()
    except calibration.CalibrationError as error:
        raise fail_usage(str(error))
    if as_json:
        print(found.model_dump_json(indent=2))
        return
    table = Table(title=f"Measured peak (best of 5 trials; {found.framework} {found.framework_version}, "
                        f"{found.measured_at[:19]}Z, {found.seconds:.1f} s)")
    for column in ("device", "precision", "peak", "reached by", "every operation"):
        table.add_column(column, justify="right" if column == "peak" else "left")
    for peak in found.peaks:
        table.add_row(peak.device, peak.precision, format_flops(peak.flops_per_second), peak.operation,
                      ", ".join(f"{name}: {format_flops(rate)}" for name, rate in peak.by_operation.items()))
    console.print(table)
    console.print(f"cached for this machine's fingerprint {found.fingerprint[:12]}; `--force` measures again",
                  highlight=False)


def parse_budget(text: str) -> tuple[float | None, float | None]:
    """'3x' is a multiple of one standard measurement, '300' or '300s' is seconds: (factor, seconds)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(x|s)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--budget {text!r}: give a multiple of one standard measurement like 3x, "
                         f"or seconds like 300s.")
    value = float(match.group(1))
    return (value, None) if match.group(2) == "x" else (None, value)


def verdict_text(verdict: str, reason: str) -> Text:
    styles = {"chosen": "bold green", "rejected": "red", "failed": "bold red", "not tried": "dim"}
    return Text.assemble((verdict, styles.get(verdict, "")), f": {reason}" if reason else "")


def print_tuning(workload: str, framework: str, tuned) -> None:
    from batchmark.plans import Plan
    from batchmark.tune.workload import switches

    base = tuned.baseline_plan
    table = Table(title=f"tune {workload} · {framework} ({tuned.key.batch_shape})")
    table.add_column("plan (switches over baseline)")
    table.add_column("stage")
    table.add_column("steps", justify="right")
    table.add_column("s/batch median", justify="right")
    table.add_column("vs baseline", justify="right")
    table.add_column("verdict")
    for candidate in tuned.candidates:
        plan = candidate.plan
        ratio = "—"
        if candidate.median_seconds and plan == base:
            ratio = "1.00x"
        elif candidate.median_seconds:
            speed = tuned.baseline_seconds / candidate.median_seconds
            ratio = f"{speed:.2f}x faster" if speed >= 1 else f"{1 / speed:.2f}x slower"
        table.add_row(switches(plan, base), candidate.stage, str(candidate.steps),
                      "—" if candidate.median_seconds is None else f"{candidate.median_seconds:.4f}", ratio,
                      verdict_text(candidate.verdict, candidate.reason))
    console.print(table)
    for switch, reason in tuned.pruned:
        console.print(Text.assemble(("not measured ", "dim"), (switch, "bold"), f": {reason}"))
    for candidate in tuned.candidates:  # the one-line verdicts a user scans for: "XLA: 4.3x slower, rejected"
        if candidate.verdict == "rejected" and candidate.median_seconds and candidate.median_seconds > tuned.baseline_seconds:
            name = switches(candidate.plan, base)
            console.print(Text(f"{name}: {candidate.median_seconds / tuned.baseline_seconds:.1f}x slower, rejected",
                               style="red"))
    chosen = tuned.plan
    if chosen == base:
        outcome = f"nothing beat the plain framework ({tuned.baseline_seconds:.4f} s/batch)"
    else:
        outcome = (f"{chosen.describe()}: {tuned.seconds:.4f} s/batch at the standard step count, "
                   f"{tuned.speedup:.2f}x faster than the baseline's {tuned.baseline_seconds:.4f} s")
    console.print(Text.assemble(("chosen: ", "bold"), (switches(chosen, base), "bold green"), f" — {outcome}"))
    console.print(f"tuning took {tuned.tuning_seconds:.0f} s of a {tuned.budget_seconds:.0f} s budget", highlight=False)


@app.command()
def tune(
    workloads: Annotated[Optional[list[str]], typer.Argument(
        help="Workloads to tune (default: all), or your own model as module:function (a factory returning "
             "model, loss function, example batch and optionally an optimizer).")] = None,
    framework: Annotated[str, typer.Option(help="Comma-separated frameworks: torch, tensorflow, jax.")] = "torch",
    batch_size: Annotated[Optional[int], typer.Option(help="Tune for this batch size instead of the standard one.")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Tune for this image size instead of the standard one.")] = None,
    budget: Annotated[str, typer.Option(help="Tuning budget: a multiple of one standard measurement of one "
                                             "plan (3x) or seconds (600s).")] = "3x",
    loss_tolerance: Annotated[float, typer.Option(help="Largest relative gap of the loss to fp32's after the short "
                                                       "trial's steps.")] = 0.05,
    force: Annotated[bool, typer.Option("--force", help="Tune again even if a tuned plan is cached.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the weights and the synthetic data.")] = 0,
) -> None:
    """Find the fastest plan for each workload here by measuring it; cache it for `run --plan tuned`."""
    from batchmark.engine import calibration
    from batchmark.engine.profiles import PROFILES
    from batchmark.engine.runner import SuiteRequest, probe_devices, validate, workload_sizes
    from batchmark.machine import fingerprint
    from batchmark.tune import cache
    from batchmark.tune.search import SearchSettings
    from batchmark.tune.workload import workload_key
    from batchmark.workloads.registry import workload_names

    names = workloads or workload_names()
    user_models = [name for name in names if ":" in name]
    try:
        factor, seconds = parse_budget(budget)
        if not 0 < loss_tolerance < 1:
            raise UsageError(f"--loss-tolerance {loss_tolerance}: give a fraction between 0 and 1, e.g. 0.05.")
        plugins = load_plugins()
        builtin = [name for name in names if ":" not in name]
        frameworks = split_list(framework)
        request = SuiteRequest(workloads=builtin, frameworks=frameworks, plans=[], device="auto",
                               profile=PROFILES["standard"], batch_size=batch_size, image_size=image_size,
                               plugins=plugins)
        validate(request)
        if user_models and frameworks != ["torch"]:
            raise UsageError("your own model (module:function) is tuned in PyTorch only: use --framework torch.")
        devices = {name: probe_devices(name) for name in frameworks}
        calibrated, fresh = calibration.cached_or_calibrate()
        if fresh:
            errors.print(f"calibrated this machine's peak in {calibrated.seconds:.0f} s (`batchmark calibrate` shows it)")
    except (UsageError, UnknownNameError) as error:
        raise fail_usage(str(error))
    except calibration.CalibrationError as error:
        raise fail_usage(str(error))
    settings = SearchSettings(loss_tolerance=loss_tolerance, budget_factor=factor or 3.0, budget_seconds=seconds)
    machine = fingerprint()
    failed = False
    for model in user_models:
        failed |= not _tune_user_model(model, settings, force)
    for workload in builtin:
        sizes = workload_sizes(request, workload)
        for name in frameworks:
            cached = None if force else cache.load(workload_key(machine, name, workload, *sizes))
            if cached is not None:
                errors.print(f"{workload} · {name}: a tuned plan is cached ({cached.tuned_at[:19]}Z); `--force` tunes again")
                print_tuning(workload, name, cached)
            elif not tune_and_show(workload, name, sizes, devices[name], calibrated, machine, settings, seed, plugins):
                failed = True
    if failed:
        raise typer.Exit(1)


def tune_and_show(workload: str, framework: str, sizes: tuple[int, int], devices: dict, peaks, machine: dict,
                  settings=None, seed: int = 0, plugins: list[str] = ()) -> bool:
    """Tune one (workload, framework) at `sizes` and print the outcome; False, after one line, when even the
    baseline failed."""
    from batchmark.tune.search import SearchSettings, TuneFailed
    from batchmark.tune.workload import tune_workload

    errors.print(f"tuning {workload} · {framework} at batch {sizes[0]}, {sizes[1]}²")
    try:
        tuned, _ = tune_workload(workload, framework, *sizes, devices, peaks, machine, settings or SearchSettings(),
                                 seed=seed, plugins=plugins,
                                 say=lambda line: errors.print(f"  {line}", highlight=False, markup=False))
    except TuneFailed as error:
        errors.print(f"error: {workload} · {framework} not tuned: {error}", highlight=False, markup=False)
        return False
    print_tuning(workload, framework, tuned)
    return True


def _tune_user_model(reference: str, settings, force: bool) -> bool:
    """A user's factory, tuned by accelerate() in a process of its own; False when it failed."""
    import subprocess
    import sys

    command = [sys.executable, "-m", "batchmark.accelerate.factory", reference,
               "--loss-tolerance", str(settings.loss_tolerance)]
    if force:
        command.append("--force")
    completed = subprocess.run(command)
    return completed.returncode == 0
