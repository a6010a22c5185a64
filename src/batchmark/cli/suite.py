"""`batchmark list`, `info` and `run`: what can be measured here, and measuring it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table
from rich.text import Text

from batchmark.cli.app import DatabaseOption, app, console, say, split_list
from batchmark.errors import EXIT_FAILED


@app.command("list")
def list_command() -> None:
    """The workloads, frameworks, plans and devices available here."""
    from batchmark.api.availability import inventory

    found = inventory()
    for suite, meaning in found.suites.items():
        if suite == "all":
            continue
        workloads = Table(title=f"Workloads, --suite {suite}: {meaning}")
        workloads.add_column("name", no_wrap=True)
        for column in ("batch", "quick"):
            workloads.add_column(column, no_wrap=True, justify="right")
        workloads.add_column("model and loss")
        for spec in found.workloads:
            if spec.suite == suite:
                workloads.add_row(spec.name, spec.describe_size(spec.batch_size, spec.image_size),
                                  spec.describe_size(spec.quick_batch_size, spec.quick_image_size),
                                  f"{spec.description}; {spec.loss}")
        console.print(workloads)

    frameworks = Table(title="Frameworks")
    frameworks.add_column("name")
    frameworks.add_column("status")
    for framework in found.frameworks:
        # Text, not markup: the install command's extras ("'.[jax]'") would read as a Rich tag.
        frameworks.add_row(framework.name, Text(f"installed {framework.version}" if framework.version
                                                else f"not installed: {framework.install}"))
    console.print(frameworks)

    devices = Table(title="Devices (as the driver reports them; each framework is asked again at run time)")
    devices.add_column("device")
    devices.add_column("what")
    devices.add_row("cpu", "bf16 in hardware" if found.cpu_bf16 else "no bf16 in hardware")
    for gpu in found.gpus:
        devices.add_row(gpu.kind or "?", Text(f"{gpu.name} (driver {gpu.driver})"))
    console.print(devices)

    plans = Table(title="Plans (as they would resolve here; `--plan key=value,...` for any other)")
    for column in ("name", "framework", "switches"):
        plans.add_column(column)
    for name, plan in found.plans:
        plans.add_row(name, plan.framework, plan.describe())
    console.print(plans)


@app.command()
def info(as_json: Annotated[bool, typer.Option("--json", help="Print the fingerprint as JSON.")] = False) -> None:
    """This machine's fingerprint: CPU, cores, memory, GPUs, OS, framework versions."""
    from batchmark.api.availability import machine_info
    from batchmark.machine import describe_limits

    machine, frameworks = machine_info()
    if as_json:
        print(machine.model_dump_json(indent=2))
        return
    cpu = machine.cpu
    lines = [
        ("CPU", f"{cpu.model} ({cpu.arch}), {cpu.physical_cores} physical / {cpu.logical_cores} logical cores, "
                f"{cpu.usable_cores} usable"),
        ("flags", ", ".join(cpu.flags) or "none of interest"),
        *([("ISA capped", describe_limits(machine.isa_limits) + ": the kernels may not use the whole CPU")] if machine.isa_limits else []),
        ("memory", f"{(machine.memory_bytes or 0) / 2**30:.1f} GiB"),
        ("GPUs", ", ".join(f"{gpu.name} (driver {gpu.driver})" for gpu in machine.gpus) or "none"),
        ("OS", str(machine.os.platform)),
        ("Python", str(machine.python)),
        *[(framework.name, framework.version or f"not installed: {framework.install}") for framework in frameworks],
        ("batchmark", str(machine.batchmark)),
    ]
    for label, value in lines:
        console.print(Text.assemble((f"{label:<10}", "bold"), f" {value}"), highlight=False)


@app.command()
def run(
    workloads: Annotated[Optional[list[str]], typer.Argument(
        help="Workloads to run (default: those of --suite).")] = None,
    suite: Annotated[str, typer.Option(
        help="Without named workloads: seed (the seed article's five convolutional networks), modern (GPT-2 small "
             "and ViT-B/16) or all.")] = "seed",
    framework: Annotated[Optional[str], typer.Option(
        help="Comma-separated frameworks: torch, tensorflow, jax, mlx. The default is PyTorch and TensorFlow (the "
             "seed article's; torch alone with --nproc-per-node); JAX and MLX are opt-in.")] = None,
    plan: Annotated[Optional[list[str]], typer.Option(
        help="Named plans (baseline, accelerated, tuned, static) or one plan's switches, e.g. "
             "accelerated,compile=off. accelerated and tuned use the plan measured fastest here (cached, else "
             "chosen by short trials in this run); static is every switch the device has, unmeasured. Repeat for "
             "several.")] = None,
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
    budget: Annotated[Optional[str], typer.Option(
        help="The whole run's wall-clock budget: minutes (15, 15m), seconds (90s) or none. Default: 15 minutes, "
             "3 with --quick. Rows stop at ±3% (±5% quick) or at their share of it; rows that no longer fit are "
             "listed, not run.")] = None,
    database: DatabaseOption = None,
    nproc_per_node: Annotated[Optional[int], typer.Option(
        help="Also train each row data-parallel with this many processes per node under torchrun (PyTorch DDP: gloo "
             "on CPU, NCCL on CUDA), beside its one-process reference, and show the scaling efficiency.")] = None,
    nnodes: Annotated[int, typer.Option(help="Nodes of the torchrun group; run the same command on each.")] = 1,
    node_rank: Annotated[int, typer.Option(help="This node's rank, 0 to --nnodes - 1; node 0 keeps the results.")] = 0,
    rdzv_endpoint: Annotated[Optional[str], typer.Option(
        help="HOST:PORT where the nodes meet (node 0's address), as torchrun's --rdzv-endpoint.")] = None,
) -> None:
    """Time training steps: the standard suite by default, every workload with baseline and accelerated (the plan
    measured fastest here: cached by `batchmark tune` or an earlier run, else chosen by short trials in this run)."""
    from batchmark.engine.lifetime import stop_on_sigterm

    stop_on_sigterm()  # `kill` or a CI time-out: keep what finished, as on Ctrl-C, and say it was SIGTERM
    from batchmark.api.suite import run_suite
    from batchmark.cli.progress import ProgressEvents  # rich.progress: not for `--help` and `list`
    from batchmark.cli.render_results import print_results

    events = ProgressEvents()
    try:
        outcome = run_suite(workloads, split_list(framework) if framework is not None else None, plan or ["baseline,accelerated"], device=device,
                            quick=quick, batch_size=batch_size, image_size=image_size, steps=steps, warmup=warmup,
                            timeout=timeout, weights=weights, seed=seed, tune_first=tune_first, output=output,
                            report=report, database=database, command=sys.argv, events=events,
                            budget="profile" if budget is None else budget, suite=suite,
                            nproc_per_node=nproc_per_node, nnodes=nnodes, node_rank=node_rank,
                            rdzv_endpoint=rdzv_endpoint)
    finally:
        events.stop()
    if as_json:
        print(outcome.results.model_dump_json(indent=2))
    else:
        print_results(outcome.results, console)
    if outcome.results_saved:
        say(f"results: {outcome.path}")
    if outcome.history_location:
        say(f"history: run {outcome.results.run_id} in {outcome.history_location}")
    if outcome.report_path:
        say(f"report:  {outcome.report_path}")
    for sentence in outcome.unsaved:
        say(f"error: {sentence}")
    if outcome.interruption is not None:
        raise typer.Exit(outcome.interruption.exit_code)
    if outcome.failed_rows or outcome.unsaved:
        raise typer.Exit(EXIT_FAILED)
