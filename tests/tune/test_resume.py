"""`batchmark tune` after a search that ran out of budget goes on where it stopped: what that search measured is
kept in the cache and not measured again, and the winner is still re-measured beside the baseline."""

from __future__ import annotations

import dataclasses

import pytest

from batchmark.api import tuning
from batchmark.machine import fingerprint
from batchmark.plans import DeviceSupport, Plan
from batchmark.tune import cache, workload
from batchmark.tune.search import Trial

BASE = Plan("torch")
CL = dataclasses.replace(BASE, channels_last=True)
COMPILED = dataclasses.replace(CL, compile="default")
BF16_CL = dataclasses.replace(CL, precision="bf16")
CPU = DeviceSupport("cpu", bf16=True, fp16=False, tf32=False, compile=True)
EARLIER_CL_STEP = 0.625  # a step time no measurement below produces: found in the result only if it was kept


def summary(plan: Plan, verdict: str, steps: list[float], stage: str = "eager",
            trials: int = 1) -> cache.CandidateSummary:
    """A candidate as cached, with `trials` short trials of `steps` each (a survivor of halving has two)."""
    trials = [Trial(plan, steps, [2.3] * len(steps), [1.0, 1.0], 9.0)] * trials if steps else []
    return cache.CandidateSummary(plan=plan, stage=stage, verdict=verdict, reason="", steps=len(steps),
                                  median_seconds=steps[0] if steps else None, trials=trials)


@pytest.fixture
def partial_search(fake_workloads, monkeypatch):
    """A run's search of tiny_cnn that measured channels_last, chose bf16 + channels_last and could not afford the
    compile; and a measure that records what it is asked to run instead of starting workers."""
    key = workload.workload_key(fingerprint(), "torch", "tiny_cnn", 4, 16)
    cache.store(cache.TunedPlan(
        key=key, plan=BF16_CL, baseline_plan=BASE, baseline_seconds=1.0, seconds=0.6, speedup=1.67,
        tuned_at="2026-11-30T12:00:00+00:00", tuning_seconds=30.0, budget_seconds=30.0,
        candidates=[summary(BASE, "rejected", [1.0, 1.0]), summary(CL, "rejected", [EARLIER_CL_STEP] * 2, trials=2),
                    summary(BF16_CL, "chosen", [0.6, 0.6]), summary(COMPILED, "not tried", [], stage="compile")]))
    asked: list[tuple[Plan, bool]] = []

    def scripted_measure(*args, **kwargs):
        def measure(plan, rule, timeout, final):
            asked.append((plan, final))
            step = {BASE: 1.0, CL: 0.7, BF16_CL: 0.65, COMPILED: 0.5}.get(plan, 0.9)
            steps = rule.min_steps
            return Trial(plan, [step] * steps, [2.3] * steps, [step] * rule.warmup_steps, 1.0 + steps * step)
        return measure

    monkeypatch.setattr(workload, "worker_measure", scripted_measure)
    monkeypatch.setattr(tuning, "probe_devices", lambda framework: {"cpu": CPU})
    monkeypatch.setattr(tuning.calibration, "cached_or_calibrate", lambda machine: (None, False))
    monkeypatch.setattr(workload, "search_space", lambda *args, **kwargs: space_without_runtime(*args, **kwargs))
    return key, asked


def space_without_runtime(*args, **kwargs):
    from batchmark.tune.space import search_space

    made = search_space(*args, **kwargs)
    made.runtime, made.runtime_pruned = {}, {}  # the switches this machine has installed are not this test's business
    return made


def test_tune_goes_on_from_a_partial_search_and_measures_only_what_it_lacked(partial_search):
    key, asked = partial_search
    (outcome,) = tuning.tune_workloads(["tiny_cnn"], ["torch"], batch_size=4, image_size=16, budget="100000s")
    short = [plan for plan, final in asked if not final]
    assert CL not in short  # measured by the earlier search
    assert short.count(BASE) == 1 and COMPILED in short  # the baseline sets the budget; the compile was owed
    chosen_then = next(c for c in outcome.tuned.candidates if c.plan == BF16_CL)
    assert chosen_then.trials[0].step_seconds == [0.65, 0.65]  # the earlier choice, measured again, not reused
    kept = next(c for c in outcome.tuned.candidates if c.plan == CL)
    assert kept.trials[0].step_seconds == [EARLIER_CL_STEP] * 2
    assert outcome.tuned.plan == COMPILED and outcome.tuned.measured_alike  # re-measured beside the baseline
    assert cache.load(key).complete


def test_tune_force_starts_over(partial_search):
    key, asked = partial_search
    tuning.tune_workloads(["tiny_cnn"], ["torch"], batch_size=4, image_size=16, budget="100000s", force=True)
    assert CL in [plan for plan, final in asked if not final]
