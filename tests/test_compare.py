import io
import json
import math

import numpy as np
import pytest
from rich.console import Console

from batchmark.compare import JSON_FORMAT, CompareError, compare_results
from batchmark.cli.render_compare import print_comparison
from batchmark.results import ResultsFile, Row
from tests import sample_runs

def steps(center: float, spread: float = 0.01, n: int = 30, seed: int = 1) -> list[float]:
    """Step times around `center` with relative noise `spread`, the same every time for a seed."""
    return list(np.random.default_rng(seed).normal(center, center * spread, n))


def row(samples: list[float] | None, workload: str = "resnet", framework: str = "torch", plan: str = "baseline",
        *, batch_size: int = 32, image_size: int = 224, flops: float = 4e9, version: str = "2.13.0",
        failed: bool = False, **switches) -> Row:
    """A row of sample_runs' one builder, with what these tests vary in front: forward FLOPs, the version."""
    made = sample_runs.make_plan(framework, channels_last=False, **switches)
    if failed:
        return sample_runs.failed_row(workload, framework, plan, message="out of memory", plan=made)
    return sample_runs.ok_row(workload, framework, plan, samples, plan=made, batch_size=batch_size,
                              image_size=image_size, train_flops=3 * flops, framework_version=version)


def run(rows: list[Row], run_id: str = "a", profile: str = "standard", hostname: str = "box-a",
        python: str = "3.11.2") -> ResultsFile:
    machine = sample_runs.fingerprint(hostname).model_copy(update={"python": python})
    return sample_runs.run(rows, run_id=run_id, profile=profile, machine=machine)


def compare_one(row_a: Row, row_b: Row, **options):
    comparison = compare_results(run([row_a]), run([row_b], run_id="b"), **options)
    assert len(comparison.pairs) == 1
    return comparison, comparison.pairs[0]


def test_a_clear_slowdown_is_a_regression():
    comparison, pair = compare_one(row(steps(1.0)), row(steps(1.3, seed=2)))
    assert pair.status == "compared" and pair.verdict == "slower"
    assert pair.ratio == pytest.approx(1.3, rel=0.02)
    assert 1 < pair.ci_low < pair.ratio < pair.ci_high
    assert comparison.regressions == 1 and comparison.exit_code == 1


def test_a_clear_speedup_is_faster_and_not_a_regression():
    comparison, pair = compare_one(row(steps(1.0)), row(steps(0.7, seed=2)))
    assert pair.verdict == "faster" and pair.ci_high < 1
    assert comparison.regressions == 0 and comparison.exit_code == 0


def test_the_same_distribution_is_no_change():
    comparison, pair = compare_one(row(steps(1.0)), row(steps(1.0, seed=2)))
    assert pair.verdict == "no change"
    assert comparison.exit_code == 0


def test_a_real_change_below_the_threshold_is_no_change_within_it():
    _, pair = compare_one(row(steps(1.0, spread=0.002, n=50)), row(steps(1.02, spread=0.002, n=50, seed=2)))
    assert pair.ci_low > 1  # established, but too small to report
    assert pair.verdict == "no change" and pair.reason == "within ±5%"


def test_a_large_but_noisy_change_is_no_change_because_the_ci_includes_1():
    wide = list(np.linspace(0.5, 1.5, 9))
    _, pair = compare_one(row(wide), row([1.15 * x for x in wide]))
    assert pair.ratio == pytest.approx(1.15)
    assert pair.ci_low < 1 < pair.ci_high
    assert pair.verdict == "no change" and pair.reason == "95% CI includes 1"


@pytest.mark.parametrize("change, reason", [
    (dict(batch_size=16), "batch size 32 vs 16"),
    (dict(image_size=160), "image size 224 vs 160"),
    (dict(precision="bf16"), "precision fp32 vs bf16"),
    (dict(flops=4.1e9), "forward FLOPs per sample 4e+09 vs 4.1e+09"),
])
def test_rows_whose_checked_metadata_differ_are_refused(change, reason):
    comparison, pair = compare_one(row(steps(1.0)), row(steps(1.0, seed=2), **change))
    assert pair.status == "refused" and reason in pair.reason
    assert (pair.ratio, pair.verdict) == (None, None)
    assert comparison.geomean_ratio is None and comparison.exit_code == 0


def test_flops_within_the_tolerance_are_the_same_workload():
    _, pair = compare_one(row(steps(1.0)), row(steps(1.0, seed=2), flops=4e9 * 1.001))
    assert pair.status == "compared"


def test_a_failed_row_is_reported_with_its_reason():
    _, pair = compare_one(row(steps(1.0)), row(None, failed=True))
    assert pair.status == "failed" and pair.reason == "B failed (oom): out of memory"
    assert pair.median_a is not None and pair.median_b is None and pair.ratio is None


def test_a_different_framework_version_and_machine_are_warnings():
    comparison = compare_results(run([row(steps(1.0))]),
                              run([row(steps(1.0, seed=2), version="2.14.0")], run_id="b", hostname="box-b",
                                  python="3.12.1", profile="quick"))
    messages = [warning.message for warning in comparison.warnings]
    assert "framework version differs: torch 2.13.0 → 2.14.0" in messages
    assert "hardware differs: hostname: box-a → box-b" in messages
    assert "software differs: python: 3.11.2 → 3.12.1" in messages
    assert any(message.startswith("profile differs: standard → quick") for message in messages)
    kinds = {warning.key: warning.kind for warning in comparison.warnings}
    assert kinds == {"torch": "framework_version", "hostname": "hardware", "python": "software",
                     "profile": "profile"}


def test_the_same_machine_gives_no_warnings():
    assert compare_results(run([row(steps(1.0))]), run([row(steps(1.0, seed=2))], run_id="b")).warnings == []


def test_geomean_is_the_root_of_the_product_of_ratios():
    rows_a = [row(steps(1.0), workload="resnet"), row(steps(2.0), workload="vit")]
    rows_b = [row(steps(1.3, seed=2), workload="resnet"), row(steps(1.6, seed=3), workload="vit")]
    comparison = compare_results(run(rows_a), run(rows_b, run_id="b"))
    first, second = (pair.ratio for pair in comparison.pairs)
    assert comparison.geomean_ratio == pytest.approx(math.sqrt(first * second))


def test_rows_only_in_one_run_are_unmatched():
    comparison = compare_results(run([row(steps(1.0), workload="resnet"), row(steps(1.0), workload="vit")]),
                              run([row(steps(1.0), workload="resnet"), row(steps(1.0), workload="unet")], run_id="b"))
    assert [pair.workload for pair in comparison.pairs] == ["resnet"]
    assert [key.workload for key in comparison.unmatched_a] == ["vit"]
    assert [key.workload for key in comparison.unmatched_b] == ["unet"]


def test_two_plans_of_one_run_pair_by_workload_and_framework():
    one_run = run([row(steps(1.0)), row(steps(1.3, seed=2), plan="baseline,threads=1", threads=1)])
    comparison = compare_results(one_run, one_run, plans=("baseline", "baseline,threads=1"))
    (pair,) = comparison.pairs
    assert (pair.plan_a, pair.plan_b) == ("baseline", "baseline,threads=1")
    assert pair.plan_differences == {"threads": (None, 1)}
    assert pair.verdict == "slower"
    assert comparison.unmatched_a == [] and comparison.unmatched_b == []


def test_a_plan_label_not_in_the_run_names_the_labels_it_has():
    one_run = run([row(steps(1.0)), row(steps(1.0), plan="accelerated")])
    with pytest.raises(CompareError, match="plan 'fast' is not in run a; its plans: baseline, accelerated"):
        compare_results(one_run, one_run, plans=("baseline", "fast"))


@pytest.mark.parametrize("threshold", [0, -0.05, float("nan")])
def test_the_threshold_must_be_a_positive_fraction(threshold):
    with pytest.raises(CompareError, match="positive fraction"):
        compare_results(run([]), run([]), threshold=threshold)


def test_the_same_seed_gives_the_same_ci():
    def ci(seed):
        _, pair = compare_one(row(steps(1.0)), row(steps(1.1, seed=2)), seed=seed)
        return pair.ci_low, pair.ci_high

    assert ci(0) == ci(0)
    assert ci(0) != ci(1)


def test_json_has_exactly_the_documented_keys_and_survives_json():
    comparison = compare_results(run([row(steps(1.0)), row(steps(1.0), workload="vit")]),
                              run([row(steps(1.3, seed=2), threads=1), row(steps(1.0), workload="unet")],
                                  run_id="b", hostname="box-b"))
    data = comparison.to_json()
    assert json.loads(json.dumps(data)) == data
    assert list(data) == ["format", "format_version", "threshold", "run_a", "run_b", "pairs", "unmatched_a",
                          "unmatched_b", "geomean_ratio", "warnings", "regressions"]
    assert (data["format"], data["format_version"], data["regressions"]) == ("batchmark.compare", 1, 1)
    assert set(data["run_a"]) == {"run_id", "machine", "started_at"}
    (pair,) = data["pairs"]
    assert set(pair) == {"workload", "framework", "plan_a", "plan_b", "status", "median_a", "median_b", "ratio",
                         "ci_low", "ci_high", "verdict", "reason", "plan_differences"}
    assert pair["plan_differences"] == {"threads": [None, 1]}
    assert data["unmatched_a"] == [{"workload": "vit", "framework": "torch", "plan": "baseline"}]
    assert set(data["warnings"][0]) == {"kind", "key", "a", "b", "message"}
    for key in [*data, *pair, *data["run_a"], *data["warnings"][0]]:
        assert key in JSON_FORMAT


def test_the_terminal_shows_verdicts_and_bracketed_plan_labels_intact():
    rows_a = [row(steps(1.0), workload="resnet"), row(steps(1.0), workload="vit"), row(steps(1.0), workload="unet"),
              row(steps(1.0), workload="gan")]
    rows_b = [row(steps(1.3, seed=2), workload="resnet", plan="[jax] threads=1", threads=1),
              row(steps(0.7, seed=2), workload="vit", plan="[jax] threads=1"),
              row(steps(1.0, seed=2), workload="unet", plan="[jax] threads=1"),
              row(steps(1.0, seed=2), workload="gan", plan="[jax] threads=1", batch_size=16)]
    comparison = compare_results(run(rows_a), run(rows_b, run_id="b", hostname="box-b"),
                              plans=("baseline", "[jax] threads=1"))
    console = Console(file=io.StringIO(), width=200, color_system=None)
    print_comparison(comparison, console)
    output = console.file.getvalue()
    for expected in ("x slower", "x faster", "no change", "baseline → [jax] threads=1", "threads default → 1",
                     "geomean B/A over 3 rows", "refused: gan", "batch size 32 vs 16",
                     "warning: hardware differs: hostname: box-a → box-b"):
        assert expected in output, expected


def test_a_plan_measured_once_under_two_names_pairs_under_each():
    """A quick run measures TensorFlow's accelerated plan once, as its baseline; a standard run measures the
    two apart. Comparing the runs pairs the one row under both names, and never compares it with itself."""
    shared = row(steps(1.0))
    shared.also_labels = ["accelerated"]
    quick = run([shared])
    standard = run([row(steps(1.0, seed=2)), row(steps(0.8, seed=3), plan="accelerated")], run_id="b")
    comparison = compare_results(quick, standard)
    assert [(pair.plan_a, pair.plan_b, pair.status) for pair in comparison.pairs] == [
        ("baseline", "baseline", "compared"), ("accelerated", "accelerated", "compared")]
    assert comparison.unmatched_a == [] and comparison.unmatched_b == []
    assert compare_results(quick, quick, plans=("baseline", "accelerated")).pairs[0].ratio == 1.0
