"""Tuned plans are found again only for the same machine, framework build, workload and batch shape."""

from __future__ import annotations

import pytest

from batchmark.tune import cache

KEY = cache.TuneKey(fingerprint="a" * 64, framework="torch", framework_version="2.13.0+cpu",
                    workload="mobilenetv3", batch_shape="32x224")


def tuned(key: cache.TuneKey) -> cache.TunedPlan:
    plan = {"framework": "torch", "device": "cpu", "precision": "fp32", "compile": "default", "channels_last": True,
            "threads": None}
    return cache.TunedPlan(key=key, plan=plan, baseline_plan={**plan, "compile": "off", "channels_last": False},
                           baseline_seconds=3.3, seconds=2.2, speedup=1.5, tuned_at="2026-11-28T22:00:00+00:00",
                           tuning_seconds=95.0, budget_seconds=110.0)


def test_a_stored_plan_comes_back_for_its_key():
    cache.store(tuned(KEY))
    assert cache.load(KEY) == tuned(KEY)


@pytest.mark.parametrize("change", [{"fingerprint": "b" * 64}, {"framework_version": "2.14.0"},
                                    {"workload": "densenet121"}, {"batch_shape": "64x224"}, {"framework": "jax"}])
def test_a_changed_fingerprint_version_workload_or_shape_finds_nothing(change):
    cache.store(tuned(KEY))
    assert cache.load(KEY.model_copy(update=change)) is None


def test_a_damaged_cache_file_is_ignored():
    path = cache.store(tuned(KEY))
    path.write_text("{not json")
    assert cache.load(KEY) is None
