"""Where one training step's time goes: torch.profiler over a workload's step under one plan.

    .venv/bin/python benchmarks/profile_step.py resnet50v2_finetune [--plan channels_last=true] [--steps 2]

Prints the operators by self CPU time, the share of the step per kind of operator (convolution forward and
backward, matmul, normalisation, elementwise, optimizer, the rest), and the FLOP/s the convolution and
matmul kernels themselves reach (the step's training FLOPs as batchmark counts them ÷ the time of those
operators, forward and backward) against the calibrated peak: whether the step is slow because its
kernels are, or because of everything between them. The profiler's own FLOP estimates are not used: it
has none for oneDNN's convolutions.
"""

from __future__ import annotations

import argparse
import collections
import sys

from torch.profiler import ProfilerActivity, profile

from batchmark.engine import calibration
from batchmark.engine.plan import parse_plans
from batchmark.frameworks.torch_backend import TorchBackend
from batchmark.workloads.registry import get_workload

KINDS = (  # (kind, substrings of aten op names), first match wins
    ("convolution", ("conv", "mkldnn_convolution")),
    ("matmul", ("addmm", "aten::mm", "bmm", "linear")),
    ("normalisation", ("batch_norm", "instance_norm", "native_batch_norm", "layer_norm")),
    ("optimizer", ("_foreach", "adam", "lerp", "addcdiv", "addcmul")),
    ("elementwise", ("relu", "add", "mul", "hardswish", "sigmoid", "div", "sub", "clamp", "copy_", "fill_",
                     "threshold", "hardsigmoid", "where", "cat", "mean", "sum", "pow", "sqrt", "tanh")),
)


def kind_of(name: str) -> str:
    lowered = name.lower()
    return next((kind for kind, needles in KINDS if any(needle in lowered for needle in needles)), "other")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workload")
    parser.add_argument("--plan", default="baseline")
    parser.add_argument("--steps", type=int, default=2)
    options = parser.parse_args(argv)
    spec = get_workload(options.workload)
    (request,) = parse_plans([options.plan])
    plan, _ = request.resolve("torch", TorchBackend().devices()[0], None)
    prepared = TorchBackend().prepare(options.workload, plan, spec.batch_size, spec.image_size, 0, None)
    session = prepared.session
    session.read_loss(session.step())  # warm-up: allocation, oneDNN primitive creation, compilation
    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as profiler:
        for _ in range(options.steps):
            session.read_loss(session.step())
    events = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in events)
    print(f"{options.workload}, plan {plan.describe()}, batch {spec.batch_size}x{spec.image_size}², "
          f"{options.steps} profiled steps, {total / 1e6 / options.steps:.2f} s of operator time per step")
    print(events.table(sort_by="self_cpu_time_total", row_limit=15))
    shares = collections.Counter()
    for event in events:
        shares[kind_of(event.key)] += event.self_cpu_time_total
    print("| kind of operator | share of the step |")
    print("|---|---:|")
    for kind, micros in shares.most_common():
        print(f"| {kind} | {micros / total:.1%} |")
    found = calibration.cached()
    peak = found.peak(plan.device, plan.precision) if found else None
    _, train_flops = TorchBackend().flops_per_sample(prepared)
    flop_time = (shares["convolution"] + shares["matmul"]) / 1e6 / options.steps  # seconds per step
    rate = train_flops * spec.batch_size / flop_time
    against = f", {rate / peak.flops_per_second:.0%} of the calibrated {plan.precision} peak" if peak else ""
    print(f"convolution and matmul operators: {flop_time:.2f} s per step, doing the step's "
          f"{train_flops * spec.batch_size / 1e9:.0f} GFLOP at {rate / 1e9:.0f} GFLOP/s while they run{against}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
