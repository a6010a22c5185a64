"""`batchmark list`, `info` and `run`: what can be measured here, and measuring it."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn,
                           TimeRemainingColumn)
from rich.table import Table
from rich.text import Text

from batchmark.cli.app import (EXIT_FAILED_ROWS, EXIT_INTERRUPTED, DatabaseOption, app, console, errors, fail_usage,
                               load_plugins, open_history_or_exit, split_list)
from batchmark.errors import UsageError
from batchmark.errors import UnknownNameError


@app.command("list")
def list_command() -> None:
    """The workloads, frameworks, plans and devices available here."""
    from batchmark.plans import DeviceSupport
    from batchmark.engine.plan import accelerated, baseline
    from batchmark.frameworks import FRAMEWORKS, installed_version
    from batchmark.machine import apple_gpu, cpu_has_fast_bf16, nvidia_gpus
    from batchmark.workloads.registry import get_workload, workload_names

    try:
        load_plugins()
    except UsageError as error:
        raise fail_usage(str(error))
    workloads = Table(title="Workloads")
    workloads.add_column("name", no_wrap=True)
    for column in ("batch", "image", "quick"):
        workloads.add_column(column, no_wrap=True, justify="right")
    workloads.add_column("model and loss")
    for name in workload_names():
        spec = get_workload(name)
        workloads.add_row(name, str(spec.batch_size), f"{spec.image_size}²",
                          f"{spec.quick_batch_size}×{spec.quick_image_size}²", f"{spec.description}; {spec.loss}")
    console.print(workloads)

    frameworks = Table(title="Frameworks")
    frameworks.add_column("name")
    frameworks.add_column("status")
    for name, framework in FRAMEWORKS.items():
        version = installed_version(name)
        # Text, not markup: the install command's extras ("'.[jax]'") would read as a Rich tag.
        frameworks.add_row(name, Text(f"installed {version}" if version else f"not installed: {framework.install}"))
    console.print(frameworks)

    devices = Table(title="Devices (as the driver reports them; each framework is asked again at run time)")
    devices.add_column("device")
    devices.add_column("what")
    bf16 = cpu_has_fast_bf16()
    devices.add_row("cpu", "bf16 in hardware" if bf16 else "no bf16 in hardware")
    for gpu in nvidia_gpus() + apple_gpu():
        devices.add_row(gpu.kind, f"{gpu.name} (driver {gpu.driver})")
    console.print(devices)

    best = "cuda" if nvidia_gpus() else "mps" if apple_gpu() else "cpu"
    support = DeviceSupport(best, bf16=bf16 if best == "cpu" else best == "cuda", fp16=best != "cpu",
                            tf32=best == "cuda", compile=best != "mps")
    plans = Table(title="Plans (as they would resolve here; `--plan key=value,...` for any other)")
    plans.add_column("name")
    plans.add_column("framework")
    plans.add_column("switches")
    for name in FRAMEWORKS:
        plans.add_row("baseline", name, baseline(name, support).describe())
        plans.add_row("accelerated", name, accelerated(name, support).describe())
    console.print(plans)


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="Print the fingerprint as JSON.")] = False) -> None:
    """This machine's fingerprint: CPU, cores, memory, GPUs, OS, framework versions."""
    from batchmark.frameworks import FRAMEWORKS, installed_version
    from batchmark.machine import fingerprint

    data = fingerprint()
    if as_json:
        print(data.model_dump_json(indent=2))
        return
    cpu = data.cpu
    console.print(f"[bold]CPU[/]      {cpu.model} ({cpu.arch}), {cpu.physical_cores} physical / "
                  f"{cpu.logical_cores} logical cores, {cpu.usable_cores} usable", highlight=False)
    console.print(f"[bold]flags[/]    {', '.join(cpu.flags) or 'none of interest'}", highlight=False)
    console.print(f"[bold]memory[/]   {data.memory_bytes / 2**30:.1f} GiB", highlight=False)
    gpus = ", ".join(f"{gpu.name} (driver {gpu.driver})" for gpu in data.gpus) or "none"
    console.print(f"[bold]GPUs[/]     {gpus}", highlight=False)
    console.print(f"[bold]OS[/]       {data.os.platform}", highlight=False)
    console.print(f"[bold]Python[/]   {data.python}", highlight=False)
    for name, framework in FRAMEWORKS.items():
        version = installed_version(name)
        status = f"{version}" if version else f"not installed: {framework.install}"
        console.print(Text.assemble((f"{name:<10}", "bold"), f" {status}"), highlight=False)
    console.print(f"[bold]batchmark[/] {data.batchmark}", highlight=False)


@app.command()
def run(
    workloads: Annotated[Optional[list[str]], typer.Argument(help="Workloads to run (default: all).")] = None,
    framework: Annotated[str, typer.Option(
        help="Comma-separated frameworks: torch, tensorflow, jax. The default is PyTorch and TensorFlow (the "
             "seed article's); JAX is opt-in.")] = "torch,tensorflow",
    plan: Annotated[Optional[list[str]], typer.Option(
        help="Named plans (baseline, accelerated, tuned) or one plan's switches, e.g. accelerated,compile=off. "
             "accelerated and tuned use the plan `batchmark tune` cached for the workload here, else the static "
             "plan. Repeat for several.")] = None,
    device: Annotated[str, typer.Option(help="auto keeps each plan's device; cpu, cuda or mps forces one.")] = "auto",
    batch_size: Annotated[Optional[int], typer.Option(help="Override every workload's batch size.")] = None,
    image_size: Annotated[Optional[int], typer.Option(help="Override every workload's image size.")] = None,
    steps: Annotated[Optional[int], typer.Option(help="A fixed number of timed steps instead of the adaptive rule.")] = None,
    warmup: Annotated[Optional[int], typer.Option(help="Warm-up steps (default: the profile's).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Small images, few steps, no compile: a smoke run.")] = False,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds before a worker is killed.")] = None,
    weights: Annotated[Optional[Path], typer.Option(help="A local weights file for the (single) workload.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the weights and the synthetic data.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results JSON instead of the table.")] = False,
    output: Annotated[Optional[Path], typer.Option(help="Where to write the results JSON.")] = None,
    report: Annotated[bool, typer.Option("--report/--no-report",
                                         help="Write the HTML report beside the results JSON.")] = True,
    tune_first: Annotated[bool, typer.Option("--tune", help="Tune every workload without a cached tuned plan "
                                                             "first (as `batchmark tune`).")] = False,
    database: DatabaseOption = None,
) -> None:
    """Time training steps: the standard suite by default, every workload with baseline and accelerated."""
    from batchmark.cli.render_results import print_results
    from batchmark.engine.plan import parse_plans
    from batchmark.engine.profiles import PROFILES
    from batchmark.engine.runner import Interrupted, SuiteRequest, new_results, plan_jobs, probe_devices, run_suite, validate
    from batchmark.machine import fingerprint, nvidia_gpus
    from batchmark.store import HistoryRecorder
    from batchmark.workloads.registry import workload_names

    try:
        plugins = load_plugins()
        request = SuiteRequest(
            workloads=workloads or workload_names(), frameworks=split_list(framework),
            plans=parse_plans(plan or ["baseline,accelerated"]), device=device,
            profile=PROFILES["quick" if quick else "standard"], batch_size=batch_size, image_size=image_size,
            steps=steps, warmup=warmup, timeout=timeout, weights=weights, seed=seed, plugins=plugins,
        )
        validate(request)
        history = open_history_or_exit(database)  # before any work: a broken history is an error, not a surprise
        if device == "cuda" and not nvidia_gpus():  # instant answer before any framework starts
            raise UsageError("--device cuda: this machine has no NVIDIA GPU (nvidia-smi finds none). "
                             "Allowed here: auto, cpu.")
        devices = {name: probe_devices(name) for name in request.frameworks}
        machine = fingerprint()
        peaks = machine_peaks(machine, measure=not quick)
        if tune_first:
            tune_missing(request, devices, peaks, machine)
        jobs = plan_jobs(request, devices, tuned=tuned_lookup(machine))
    except (UsageError, UnknownNameError) as error:
        raise fail_usage(str(error))
    except KeyboardInterrupt:
        errors.print("interrupted before any workload ran; nothing to save")
        raise typer.Exit(EXIT_INTERRUPTED)

    results = new_results(sys.argv, request.profile, machine)
    results.calibration = peaks
    path = output or default_output(results.run_id)
    recorder = HistoryRecorder(history, on_error=lambda error: errors.print(
        f"warning: the history stops here ({error}); every row is still in {path}", highlight=False,
        markup=False, soft_wrap=True))
    # Time remaining from the average row so far: rows take minutes, so the speed is averaged over an hour
    # (Rich's default 30 s window would hold no finished row and show nothing).
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=errors,
                        transient=True, speed_estimate_period=3600)
    interrupted = False
    signal.signal(signal.SIGTERM, raise_interrupt)  # `kill` or a CI time-out: keep what finished, as on Ctrl-C
    with progress:
        suite = progress.add_task("starting", total=len(jobs))
        current = {"label": ""}

        def on_start(index: int, job) -> None:
            current["label"] = f"{job.workload} · {job.framework} · {job.plan_label}"
            progress.update(suite, description=current["label"])

        def on_progress(message: str) -> None:
            progress.update(suite, description=f"{current['label']}: {message}")

        try:
            run_suite(request, jobs, results, path, on_start=on_start, on_progress=on_progress,
                      on_row=lambda row: progress.advance(suite), recorders=[recorder])
        except Interrupted:
            interrupted = True
    if as_json:
        print(results.model_dump_json(indent=2))
    else:
        print_results(results, console)
    errors.print(f"results: {path}", highlight=False, soft_wrap=True)
    if not recorder.broken:
        errors.print(f"history: run {results.run_id} in {history.location}", highlight=False, soft_wrap=True)
    if report and results.rows:
        from batchmark.report import write_report

        try:
            report_path = write_report([results], path.with_suffix(".html"))
            errors.print(f"report:  {report_path}", highlight=False, soft_wrap=True)
        except OSError as error:  # the rows are saved already; a report is `batchmark report` away
            errors.print(f"warning: cannot write the report beside {path}: {error.strerror}", highlight=False,
                         markup=False, soft_wrap=True)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
    if any(row.status == "failed" for row in results.rows):
        raise typer.Exit(EXIT_FAILED_ROWS)


def machine_peaks(machine: dict, measure: bool):
    """The cached calibration; measured first (once per machine, ~10 s) when `measure`. None if it fails."""
    from batchmark.engine import calibration

    try:
        found = calibration.cached(machine)
        if found is None and measure:
            errors.print("calibrating this machine's peak once, for % of peak (about 10 s; `batchmark calibrate`)")
            found = calibration.calibrate(machine)
        return found
    except calibration.CalibrationError as error:
        errors.print(f"warning: no % of peak in this run: {error}", highlight=False, markup=False)
        return None


def tuned_lookup(machine: dict):
    from batchmark.plans import Plan
    from batchmark.tune import cache
    from batchmark.tune.workload import workload_key

    def lookup(workload: str, framework: str, batch_size: int, image_size: int):
        found = cache.load(workload_key(machine, framework, workload, batch_size, image_size))
        return found.plan if found else None
    return lookup


def tune_missing(request, devices: dict, peaks, machine: dict) -> None:
    """`run --tune`: tune each (workload, framework) of the run that has no cached plan at its sizes."""
    from batchmark.cli.tune import tune_and_show
    from batchmark.engine.runner import workload_sizes
    from batchmark.tune import cache
    from batchmark.tune.workload import workload_key

    for workload in request.workloads:
        sizes = workload_sizes(request, workload)
        for framework in request.frameworks:
            if cache.load(workload_key(machine, framework, workload, *sizes)) is None:
                tune_and_show(workload, framework, sizes, devices[framework], peaks, machine,
                              seed=request.seed, plugins=request.plugins)


def raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def default_output(run_id: str) -> Path:
    import platformdirs

    return platformdirs.user_data_path("batchmark") / "runs" / f"{run_id}.json"
