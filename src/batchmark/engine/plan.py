"""Which plan to run: the named plans resolved against a framework and a device.

Named plans: ``baseline`` (the plain framework as a user gets it), ``accelerated`` (the plan measured fastest
for this workload and machine: cached by `batchmark tune` or an earlier run, else chosen by short trials in the
run itself), ``tuned`` (the same, asked for by name) and ``static`` (every switch the device supports, assumed
rather than measured: for ablations). ``--plan`` also takes explicit switches, ``device=cpu,precision=bf16``,
applied on top of a named plan (baseline unless one is named), so that an ablation is one command.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Sequence

from batchmark.errors import UnknownNameError, UsageError, unknown
from batchmark.frameworks import COMPILE_MODES, get_framework
from batchmark.frameworks.runtime import inapplicable_switch
from batchmark.plans import (ALLOCATORS, ATTENTIONS, BLAS_LIBRARIES, DEVICES, OMP_WAIT_POLICIES, OPTIMIZERS,
                             PRECISIONS, SWITCHES, DeviceSupport, Plan)

PLAN_NAMES = ("baseline", "accelerated", "tuned", "static")


def baseline(framework: str, device: DeviceSupport) -> Plan:
    """The plain framework as a user gets it, with `device` the best one it can use here."""
    record = get_framework(framework)
    if not record.nhwc_only:
        return Plan(framework=framework)  # PyTorch: eager, NCHW, tensors on the CPU until moved
    # Keras places arrays on the backend's default device (a GPU when there is one) and is NHWC; its
    # compile default depends on the device (jit_compile="auto": XLA on TensorFlow only on a GPU that XLA
    # supports, not Apple's Metal plugin).
    accelerator = device.name != "cpu" and device.compile
    compile = record.plain_compile_on_accelerator if accelerator else record.plain_compile
    return Plan(framework=framework, device=device.name, compile=compile, channels_last=True)


def accelerated(framework: str, device: DeviceSupport) -> Plan:
    """Every switch the device supports. Assumed to help; batchmark's tables show whether it did."""
    if device.bf16:
        precision = "bf16"
    elif device.fp16:
        precision = "fp16"
    else:
        precision = "fp32"
    return Plan(
        framework=framework,
        device=device.name,
        precision=precision,
        compile=get_framework(framework).compiled if device.compile else baseline(framework, device).compile,
        channels_last=True,
    )


def check_plan(plan: Plan) -> None:
    """Switches a framework has no meaning for are a usage error, found before any worker starts."""
    record = get_framework(plan.framework)
    if plan.compile not in record.compile_modes:
        raise UsageError(f"plan switch compile={plan.compile} does not exist in {plan.framework}. "
                         f"Allowed there: {', '.join(record.compile_modes)}.")
    if record.nhwc_only and not plan.channels_last:
        why = ("MLX's convolutions take channels-last only" if plan.framework == "mlx"
               else "Keras's default, and all TensorFlow's CPU convolutions accept")
        raise UsageError(f"plan switch channels_last=false: batchmark's {plan.framework} models are NHWC only "
                         f"({why}).")
    if (problem := inapplicable_switch(plan)) is not None:
        raise UsageError(problem)


def belongs_elsewhere(plan: Plan, frameworks: Sequence[str]) -> bool:
    """Whether the plan sets a runtime switch its framework lacks but another framework of the run has: then it
    is that framework's row alone (`--framework torch,mlx --plan blas=openblas` adds one MLX row), not an error."""
    if inapplicable_switch(plan) is None:
        return False
    return any(inapplicable_switch(dataclasses.replace(plan, framework=other)) is None
               for other in frameworks if other != plan.framework)


# The runtime switches that take one of a few names; omp_bind and onednn are booleans (onednn also "default").
CHOICES = {"allocator": ALLOCATORS, "omp_wait": OMP_WAIT_POLICIES, "optimizer": OPTIMIZERS, "attention": ATTENTIONS,
           "blas": BLAS_LIBRARIES}


def _parse_bool(key: str, value: str, *also: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    allowed = ", ".join(("true", "false", *also))
    raise UnknownNameError(f"plan switch {key}={value!r} is not a boolean. Allowed: {allowed}.")


def _parse_switch(key: str, value: str) -> tuple[str, object]:
    if key == "device":
        if value not in DEVICES:
            raise unknown("device", value, list(DEVICES))
        return key, value
    if key == "precision":
        if value not in PRECISIONS:
            raise unknown("precision", value, list(PRECISIONS))
        return key, value
    if key == "compile":
        if value not in COMPILE_MODES:
            raise unknown("compile mode", value, list(COMPILE_MODES))
        return key, value
    if key == "channels_last":
        return key, _parse_bool(key, value)
    if key == "threads":
        if value == "default":
            return key, None
        if not value.isdigit() or int(value) < 1:
            raise UnknownNameError(f"plan switch threads={value!r} must be a positive integer or 'default'.")
        return key, int(value)
    if key in CHOICES:
        if value not in CHOICES[key]:
            raise unknown(f"value for plan switch {key}", value, list(CHOICES[key]))
        return key, value
    if key == "omp_bind":
        return key, _parse_bool(key, value)
    if key == "onednn":  # "default": TensorFlow decides by the CPU
        return key, None if value == "default" else _parse_bool(key, value, "default")
    raise unknown("plan switch", key, list(SWITCHES))


@dataclass(frozen=True)
class PlanRequest:
    """A plan as the user named it, resolved against a framework and device when the suite is built."""

    label: str  # what the tables call it: "baseline", "accelerated" or the switches as typed
    base: str  # the named plan the switches start from
    switches: tuple[tuple[str, object], ...] = ()

    def resolve(self, framework: str, device: DeviceSupport, device_override: str | None,
                tuned: Plan | None = None) -> tuple[Plan, str | None]:
        """(plan, source): source is "tuned" or "static" for the accelerated, tuned and static plans, else None.

        A cached tuned plan is used unless a forced device contradicts it; `static` never uses one. (Whether an
        accelerated plan with no cached one is tuned in the run is the suite's decision: `plan_jobs`.)"""
        source = None
        if self.base == "baseline":
            plan = baseline(framework, device)
        elif self.base != "static" and tuned is not None and device_override in (None, tuned.device):
            plan, source = tuned, "tuned"
        else:
            plan, source = accelerated(framework, device), "static"
        if device_override is not None:
            plan = dataclasses.replace(plan, device=device_override)
        return dataclasses.replace(plan, **dict(self.switches)), source


def parse_plans(values: list[str]) -> list[PlanRequest]:
    """Parse `--plan` values.

    A value without '=' is a comma-separated list of named plans ("baseline,accelerated"). A value with
    '=' is one plan: an optional named base followed by switches ("accelerated,compile=off").
    """
    requests: list[PlanRequest] = []
    for value in values:
        items = [item.strip() for item in value.split(",") if item.strip()]
        if not items:
            raise UnknownNameError(f"empty --plan. Allowed: {', '.join(PLAN_NAMES)} or switches like precision=bf16.")
        if not any("=" in item for item in items):
            for name in items:
                if name not in PLAN_NAMES:
                    raise unknown("plan", name, list(PLAN_NAMES))
                requests.append(PlanRequest(label=name, base=name))
            continue
        names = [item for item in items if "=" not in item]
        if len(names) > 1 or any(name not in PLAN_NAMES for name in names):
            raise UnknownNameError(
                f"--plan {value!r}: switches may follow at most one named plan ({', '.join(PLAN_NAMES)})."
            )
        switches = [_parse_switch(*item.split("=", 1)) for item in items if "=" in item]
        repeated = sorted(key for key, count in Counter(key for key, _ in switches).items() if count > 1)
        if repeated:  # one plan has one value per switch: two plans are two --plan options
            raise UnknownNameError(f"--plan {value!r} sets {', '.join(repeated)} twice; one plan takes one value "
                                   f"per switch (to compare two, give --plan twice)")
        requests.append(PlanRequest(label=value, base=names[0] if names else "baseline", switches=tuple(switches)))
    return requests
