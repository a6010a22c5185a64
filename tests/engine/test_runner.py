"""The parent's bookkeeping: rows from worker output, speedups the right way round, jobs from requests."""

import dataclasses

import pytest

from batchmark.plans import DeviceSupport, Plan
from batchmark.engine.plan import parse_plans
from batchmark.engine.profiles import PROFILES
from batchmark.engine.runner import Job, SuiteRequest, make_row, plan_jobs
from batchmark.results import apply_speedups
from batchmark.results import WorkerOutput
from batchmark import wording
from batchmark.wording import speedup

CPU = {"torch": {"cpu": DeviceSupport("cpu", bf16=True, fp16=False, tf32=False, compile=True)}}


def output(warmup, steps):
    return WorkerOutput(setup_seconds=1.0, warmup_seconds=warmup, step_seconds=steps, losses=[1.0] * len(steps),
                        peak_memory_bytes=1, memory_kind="process peak RSS", forward_flops_per_sample=1.0,
                        train_flops_per_sample=3.0, device_name="cpu", framework_version="x", threads=2)


def job(label, plan):
    return Job("mobilenetv3", "torch", label, plan, 32, 224)


def test_speedup_is_baseline_over_plan():
    rows = [make_row(job("baseline", Plan()), output([3.0], [2.0] * 5), None),
            make_row(job("accelerated", Plan(compile="default")), output([60.0, 1.5], [1.0] * 5), None),
            make_row(job("precision=bf16", Plan(precision="bf16")), output([9.0], [4.0] * 5), None)]
    apply_speedups(rows)
    assert [row.speedup_vs_baseline for row in rows] == [1.0, 2.0, 0.5]
    assert speedup(2.0, False).text == "2.00x faster"
    assert speedup(0.5, False).text == "2.00x slower"


def test_compile_time_is_warmup_above_the_steady_state_and_only_for_compiled_plans():
    compiled = make_row(job("accelerated", Plan(compile="default")), output([61.0, 1.5], [1.0] * 5), None)
    assert compiled.compile_seconds == pytest.approx(60.5)
    eager = make_row(job("baseline", Plan()), output([3.0], [2.0] * 5), None)
    assert eager.compile_seconds is None
    assert eager.samples_per_second == pytest.approx(16.0)


def test_statistics_come_from_the_timed_steps_only():
    row = make_row(job("baseline", Plan()), output([100.0, 100.0], [1.0, 2.0, 3.0, 4.0, 5.0]), None)
    assert row.statistics.median == 3.0 and row.statistics.max == 5.0 and row.statistics.n == 5


def test_jobs_are_workload_major_with_resolved_plans():
    request = SuiteRequest(workloads=["mobilenetv3", "cyclegan"], frameworks=["torch"],
                           plans=parse_plans(["baseline,accelerated"]), device="auto", profile=PROFILES["standard"])
    jobs = plan_jobs(request, CPU)
    assert [(j.workload, j.plan_label) for j in jobs] == [
        ("mobilenetv3", "baseline"), ("mobilenetv3", "accelerated"), ("cyclegan", "baseline"), ("cyclegan", "accelerated")]
    assert jobs[1].plan == Plan(precision="bf16", compile="default", channels_last=True)
    assert (jobs[0].batch_size, jobs[0].image_size, jobs[2].batch_size, jobs[2].image_size) == (32, 224, 1, 256)


def test_quick_profile_does_not_compile_unless_asked():
    request = SuiteRequest(workloads=["mobilenetv3"], frameworks=["torch"],
                           plans=parse_plans(["static", "accelerated,compile=default"]), device="auto",
                           profile=PROFILES["quick"])
    first, second = plan_jobs(request, CPU)
    assert first.plan.compile == "off" and second.plan.compile == "default"
    assert (first.batch_size, first.image_size) == (4, 64)


def test_a_plan_named_twice_is_measured_once_and_shown_under_both_names():
    """In a quick run TensorFlow's accelerated plan compiles nothing and is exactly its baseline: two rows of
    one plan differed by noise (0.168 s against 0.474 s) and the table called one 2.8x slower."""
    request = SuiteRequest(workloads=["densenet121"], frameworks=["tensorflow"],
                           plans=parse_plans(["baseline,static", "baseline,threads=default"]), device="auto",
                           profile=PROFILES["quick"])
    cpu = DeviceSupport("cpu", bf16=False, fp16=False, tf32=False, compile=True)
    (job,) = plan_jobs(request, {"tensorflow": {"cpu": cpu}})
    assert job.plan_label == "baseline" and job.also == ("static", "baseline,threads=default")
    row = make_row(job, output([0.3], [0.2] * 5), None)
    assert row.also_labels == ["static", "baseline,threads=default"]
    assert wording.plan_name(row) == "baseline = static = baseline,threads=default"
    torch = SuiteRequest(workloads=["densenet121"], frameworks=["torch"], plans=parse_plans(["baseline,static"]),
                         device="auto", profile=PROFILES["quick"])
    assert [job.also for job in plan_jobs(torch, {"torch": {"cpu": cpu}})] == [(), ()]  # channels_last differs


def test_an_accelerated_plan_with_nothing_cached_is_measured_in_the_run_never_assumed():
    request = SuiteRequest(workloads=["mobilenetv3"], frameworks=["torch"],
                           plans=parse_plans(["baseline,accelerated,tuned", "static"]), device="auto",
                           profile=PROFILES["standard"])
    baseline_job, screened, static = plan_jobs(request, CPU)
    assert not baseline_job.screen and static.plan_source == "static" and not static.screen
    assert screened.screen and screened.plan_label == "accelerated" and screened.also == ("tuned",)
    cached = Plan(channels_last=True)
    _, from_cache, _ = plan_jobs(request, CPU, tuned=lambda *key: cached)
    assert not from_cache.screen and from_cache.plan == cached and from_cache.plan_source == "tuned"
    assert from_cache.also == ("tuned",)
    unmeasured = plan_jobs(dataclasses.replace(request, screen_missing=False), CPU)
    assert not any(job.screen for job in unmeasured)  # the static plan, under every name that asked for it
    assert unmeasured[1].plan_label == "accelerated" and unmeasured[1].also == ("tuned", "static")


def test_a_workload_named_twice_is_measured_twice():
    request = SuiteRequest(workloads=["mobilenetv3", "mobilenetv3"], frameworks=["torch"],
                           plans=parse_plans(["baseline"]), device="auto", profile=PROFILES["quick"])
    assert [job.also for job in plan_jobs(request, CPU)] == [(), ()]


def test_an_out_of_memory_row_says_to_try_a_smaller_batch():
    from batchmark.results import Failure

    row = make_row(Job("gpt2_124m", "torch", "baseline", Plan(), 8, 1024), None,
                   Failure(kind="oom", message="worker killed by SIGKILL: most likely the kernel's OOM killer"))
    assert row.status == "failed" and "batch of 8" in row.failure.message
    assert "smaller --batch-size" in row.failure.message
    unhelpful = make_row(Job("gpt2_124m", "torch", "baseline", Plan(), 1, 1024), None,
                         Failure(kind="oom", message="out of memory"))
    assert "--batch-size" not in unhelpful.failure.message  # a batch of 1 cannot shrink


def test_the_default_budget_grows_with_the_transformers_and_not_otherwise():
    standard, quick = PROFILES["standard"], PROFILES["quick"]
    assert standard.default_budget_minutes({"seed"}) == standard.budget_minutes
    assert standard.default_budget_minutes({"seed", "modern"}) == (standard.budget_minutes
                                                                  + standard.modern_budget_minutes)
    assert quick.default_budget_minutes({"modern"}) == quick.modern_budget_minutes
    assert standard.default_budget_minutes(set()) == standard.budget_minutes  # a plugin's workloads alone


@pytest.mark.parametrize("kind, joins", [("timeout", True), ("oom", True), ("unsupported", True), ("crash", False),
                                         ("interrupted", False)])
def test_a_screened_plan_that_already_failed_for_good_is_not_run_again(kind, joins, tmp_path):
    """The plain framework standing in for an unscreened "accelerated" plan is the baseline's plan: when the
    baseline's row met a failure that would repeat (a step over the time cap), the accelerated name joins that
    row rather than run it again; a crash may not repeat, so that plan is run."""
    from batchmark.engine.runner import _joined_earlier_row
    from batchmark.results import Failure, ResultsFile, Row
    from tests.sample_runs import fingerprint

    failed = Row(workload="tiny_cnn", framework="torch", plan_label="baseline", plan=Plan("torch"), batch_size=4,
                 image_size=16, status="failed", failure=Failure(kind=kind, message="over the time cap"))
    results = ResultsFile(batchmark_version="0", run_id="20261130T000000Z-test", command=["batchmark"],
                          profile="quick", started_at="2026-11-30T00:00:00+00:00", machine=fingerprint(), rows=[failed])
    accelerated = dataclasses.replace(job("accelerated", Plan("torch")), workload="tiny_cnn", batch_size=4,
                                      image_size=16)
    recorded = []
    joined = _joined_earlier_row(accelerated, results, type("Recorder", (), {"changed": recorded.append})())
    assert joined is joins
    assert failed.also_labels == (["accelerated"] if joins else [])
