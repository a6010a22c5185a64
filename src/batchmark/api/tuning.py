"""`batchmark.calibrate` and `batchmark.tune`: the machine's limit, and the fastest plan measured against it.

Built-in workloads are tuned with a worker subprocess per trial. A user's own model (`module:function`, a
factory returning model, loss function, example batch and optionally an optimizer) is tuned by
`accelerate()` in a process of its own, fed the same settings: every option reaches it.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from batchmark.api.events import Events
from batchmark.api.plugins import load_plugins
from batchmark.engine import calibration
from batchmark.engine.profiles import PROFILES
from batchmark.engine.runner import SuiteRequest, probe_devices, validate, workload_sizes
from batchmark.errors import TuneFailed, UsageError
from batchmark.machine import Fingerprint, fingerprint
from batchmark.plans import DeviceSupport
from batchmark.results import Calibration
from batchmark.tune import cache
from batchmark.tune.search import SearchSettings
from batchmark.tune.workload import tune_workload, workload_key
from batchmark.workloads.registry import workload_names
from batchmark.engine.lifetime import owned_folder


@dataclass
class TuneOutcome:
    workload: str  # a registered workload, or the user's module:function
    framework: str
    tuned: cache.TunedPlan | None  # None when it failed
    cached: bool  # found in the cache, not measured now
    failure: str | None = None  # one line, when not even the baseline ran


OWN_PEAKS = ("mlx",)  # frameworks whose own calibrated peak, when cached, prunes the tuner's precisions


def calibrate(force: bool = False, events: Events | None = None,
              framework: str = calibration.FRAMEWORK) -> tuple[Calibration, bool]:
    """This machine's measured peaks, cached per fingerprint: (calibration, whether it was measured now). By
    default torch's kernels measure the hardware's peak; `framework="mlx"` measures MLX's own."""
    events = events or Events()
    found = None if force else calibration.cached(framework=framework)
    if found is not None:
        return found, False
    events.say(f"calibrating {framework}: a matmul and a 3x3 convolution per device and precision (about 10 s on a "
               f"CPU)")
    return calibration.calibrate(framework=framework), True


def parse_budget(text: str) -> SearchSettings:
    """'5x' is a multiple of one standard measurement, '300' or '300s' is seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(x|s)?\s*", text.lower())
    if not match or float(match.group(1)) <= 0:
        raise UsageError(f"--budget {text!r}: give a multiple of one standard measurement like 5x, "
                         f"or seconds like 300s.")
    value = float(match.group(1))
    return SearchSettings(budget_factor=value) if match.group(2) == "x" else SearchSettings(budget_seconds=value)


def search_settings(budget: str, loss_tolerance: float) -> SearchSettings:
    if not 0 < loss_tolerance < 1:
        raise UsageError(f"--loss-tolerance {loss_tolerance}: give a fraction between 0 and 1, e.g. 0.05.")
    return dataclasses.replace(parse_budget(budget), loss_tolerance=loss_tolerance)


def tune_workloads(workloads: Sequence[str] | None = None, frameworks: Sequence[str] = ("torch",),
         batch_size: int | None = None, image_size: int | None = None, budget: str = "5x",
         loss_tolerance: float = 0.05, force: bool = False, seed: int = 0,
         events: Events | None = None) -> list[TuneOutcome]:
    """Find the fastest plan for each workload here by measuring it, and cache it for `run --plan tuned`.

    `workloads` may name your own model as "module:function" (PyTorch only)."""
    events = events or Events()
    names = list(workloads or workload_names())
    user_models = [name for name in names if ":" in name]
    builtin = [name for name in names if ":" not in name]
    settings = search_settings(budget, loss_tolerance)
    plugins = load_plugins()
    frameworks = list(frameworks)
    request = SuiteRequest(workloads=builtin, frameworks=frameworks, plans=[], device="auto",
                           profile=PROFILES["standard"], batch_size=batch_size, image_size=image_size,
                           plugins=plugins)
    validate(request)
    if user_models and frameworks != ["torch"]:
        raise UsageError("your own model (module:function) is tuned in PyTorch only: use --framework torch.")
    if user_models and (batch_size or image_size):
        raise UsageError("--batch-size and --image-size do not apply to your own model (module:function): its "
                         "factory's example batch sets the shapes.")
    devices = {name: probe_devices(name) for name in frameworks}
    machine = fingerprint()
    peaks, fresh = calibration.cached_or_calibrate(machine)
    if fresh:
        events.say(f"calibrated this machine's peak in {peaks.seconds:.0f} s (`batchmark calibrate` shows it)")
    outcomes = []
    for reference in user_models:
        outcomes.append(tune_user_model(reference, settings, force, seed, events))
        events.tuned(outcomes[-1])
    for workload in builtin:
        sizes = workload_sizes(request, workload)
        for framework in frameworks:
            found = None if force else cache.load(workload_key(machine, framework, workload, *sizes))
            if found is not None and found.complete:
                outcome = TuneOutcome(workload, framework, found, cached=True)
            else:
                # MLX's precisions are pruned by its own peaks where `batchmark calibrate --framework mlx` measured
                # them: the BLAS it calls, not the hardware, decides what a precision can gain there.
                own = calibration.cached(machine, framework) if framework in OWN_PEAKS else peaks
                # A partial search (a run's, or a `tune` whose budget ran out) goes on where it stopped.
                outcome = tune_one(workload, framework, sizes, devices[framework], own or peaks, machine, settings,
                                   seed, plugins, events, earlier=found)
            outcomes.append(outcome)
            events.tuned(outcome)
    return outcomes


def tune_one(workload: str, framework: str, sizes: tuple[int, int], devices: dict[str, DeviceSupport],
             peaks: Calibration | None, machine: Fingerprint, settings: SearchSettings | None = None, seed: int = 0,
             plugins: Sequence[str] = (), events: Events | None = None,
             earlier: cache.TunedPlan | None = None) -> TuneOutcome:
    """Tune one built-in (workload, framework) at `sizes`; a failure is an outcome, not an exception. `earlier`: an
    unfinished search of the same key, whose trials are not measured again."""
    events = events or Events()
    events.say(f"tuning {workload} · {framework} at batch {sizes[0]}, {sizes[1]}²")
    if earlier is not None:
        reused = len(earlier.earlier_trials().keys() - {earlier.baseline_plan})  # the search measures it afresh
        events.say(f"  going on from the search of {earlier.tuned_at[:16].replace('T', ' ')}, which could not afford "
                   f"{earlier.untried} of {len(earlier.candidates)} plans: {reused} measured then are not measured "
                   f"again (`--force` starts over)")
    try:
        tuned, _ = tune_workload(workload, framework, *sizes, devices, peaks, machine, settings or SearchSettings(),
                                 seed=seed, plugins=list(plugins), say=lambda line: events.say(f"  {line}"),
                                 earlier=earlier)
    except TuneFailed as error:
        return TuneOutcome(workload, framework, None, cached=False, failure=str(error))
    return TuneOutcome(workload, framework, tuned, cached=False)


def tune_user_model(reference: str, settings: SearchSettings, force: bool, seed: int,
                    events: Events) -> TuneOutcome:
    """A user's factory, tuned by accelerate() in a process of its own (the user's model, its imports and
    its thread settings stay out of this process); its news lines are passed on as they come."""
    events.say(f"tuning {reference} · torch (your model)")
    with owned_folder("batchmark-factory-") as folder:
        spec, reply = Path(folder) / "spec.json", Path(folder) / "reply.json"
        spec.write_text(json.dumps({
            "reference": reference, "force": force, "seed": seed, "loss_tolerance": settings.loss_tolerance,
            "budget_factor": settings.budget_factor, "budget_seconds": settings.budget_seconds,
        }))
        with subprocess.Popen([sys.executable, "-m", "batchmark.acceleration.factory", str(spec), str(reply)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as child:
            for line in child.stdout:
                events.say(f"  {line.rstrip()}")
        if not reply.exists():
            return TuneOutcome(reference, "torch", None, cached=False,
                               failure=f"the tuning process exited {child.returncode} without a result")
        answer = json.loads(reply.read_text())
    if answer["failure"]:
        return TuneOutcome(reference, "torch", None, cached=False, failure=answer["failure"])
    return TuneOutcome(reference, "torch", cache.TunedPlan.model_validate(answer["tuned"]), cached=answer["cached"])
