"""MLX: every workload it implements held to its spec and to PyTorch's FLOPs, real steps on a fixed batch, the
honest evaluation of a lazy step, weights files, and real rows with the BLAS switch and the time cap.

Parametrized over the registry as the PyTorch and Keras tests are: a workload with no MLX twin (style transfer,
CycleGAN and the transformers today, docs/limitations.md) is skipped by name. Tiny sizes: MLX's Linux wheel
bundles the reference BLAS, 25-30x slower than OpenBLAS here, so the steps are on the smallest inputs each
architecture takes.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys

import pytest

mx = pytest.importorskip("mlx.core", reason="MLX is not installed (pip install -e '.[mlx]')")

import batchmark  # noqa: E402
from batchmark.errors import Unsupported  # noqa: E402
from batchmark.frameworks import runtime  # noqa: E402
from batchmark.frameworks.mlx_backend import MlxBackend, MlxSession, build_task, leaves  # noqa: E402
from batchmark.frameworks.mlx_flops import count_flops  # noqa: E402
from batchmark.plans import Plan  # noqa: E402
from batchmark.workloads.registry import families_implementing, get_workload, implementation, load_families  # noqa
from mlx.utils import tree_flatten  # noqa: E402
from tests.workloads.registered import step_sizes, torch_flops_per_sample, trained_workloads  # noqa: E402

load_families(("mlx",))
each_workload = pytest.mark.parametrize("name", trained_workloads())
FLOPS_TOLERANCE = 0.01
PLAN = Plan("mlx", channels_last=True)
STEPS = 4


def implemented(name: str) -> None:
    if "mlx" not in families_implementing(name):
        pytest.skip(f"{name} has no MLX implementation")


def smallest_size(name: str) -> int:
    spec = get_workload(name)
    return max(spec.min_image_size, spec.image_multiple)


def trainable_count(model) -> int:
    return sum(array.size for array in leaves(model.trainable_parameters()))


def session_of(name: str, plan: Plan = PLAN, size: int | None = None, batch_size: int = 2) -> MlxSession:
    return MlxBackend().prepare(name, plan, batch_size, size or smallest_size(name), 0, None).session


@each_workload
def test_trainable_parameters_equal_the_spec(name):
    implemented(name)
    assert trainable_count(implementation("mlx", name)().model) == get_workload(name).trainable_parameters


@each_workload
def test_flops_per_sample_agree_with_pytorch(name):
    implemented(name)
    forward, train = count_flops(implementation("mlx", name), step_sizes(name)[1])
    torch_forward, torch_train = torch_flops_per_sample(name)
    assert forward == pytest.approx(torch_forward, rel=FLOPS_TOLERANCE)
    assert train == pytest.approx(torch_train, rel=FLOPS_TOLERANCE)
    assert train > 2 * forward


@each_workload
def test_loss_falls_on_a_fixed_batch_and_every_trainable_weight_moves(name):
    implemented(name)
    session = session_of(name)
    before = dict(tree_flatten(session.task.model.trainable_parameters()))
    losses = [session.read_loss(session.step()) for _ in range(STEPS)]
    assert all(math.isfinite(loss) for loss in losses)
    if name != "resnet50v2_finetune":  # lr 1e-5: a few steps move it too little to see
        assert losses[-1] < losses[0], losses
    after = dict(tree_flatten(session.task.model.trainable_parameters()))
    unchanged = [key for key in before if mx.array_equal(before[key], after[key]).item()]
    assert unchanged == []


def test_the_fine_tunes_batchnorm_statistics_stay_as_they_were():
    session = session_of("resnet50v2_finetune")
    statistics = {name: array for name, array in _statistics(session.task.model)}
    session.step()
    assert all(mx.array_equal(array, dict(_statistics(session.task.model))[name]).item()
               for name, array in statistics.items())
    assert statistics  # there are some


def _statistics(model):
    return [(name, value) for name, value in tree_flatten(model.parameters()) if "running_" in name]


# -- the lazy step -------------------------------------------------------------------------------------------


def test_a_step_that_evaluates_only_its_loss_is_refused(fake_workloads):
    session = session_of("tiny_cnn", size=16)
    session.evaluated = lambda loss: [loss]  # the trap: MLX would compute neither the update nor the gradients
    with pytest.raises(Unsupported, match="MLX is lazy"):
        session.step()


def test_a_step_that_leaves_out_the_optimizer_state_is_refused(fake_workloads):
    session = session_of("tiny_cnn", size=16)
    session.evaluated = lambda loss: [loss, session.task.model.state]
    with pytest.raises(Unsupported, match="optimizer"):
        session.step()


def test_the_loss_alone_costs_a_fraction_of_the_real_step():
    """Why the check exists: evaluating the loss alone skips the backward pass and the update."""
    import time

    session = session_of("mobilenetv3", size=32)
    session.step()

    def timed(evaluate) -> float:
        best = math.inf
        for _ in range(3):
            start = time.perf_counter()
            loss = session.train_step(*session.batch)
            mx.eval(evaluate(loss))
            best = min(best, time.perf_counter() - start)
        return best

    honest = timed(session.evaluated)
    loss_only = timed(lambda loss: [loss])
    assert loss_only < 0.7 * honest, (loss_only, honest)


@pytest.mark.parametrize("plan", [dataclasses.replace(PLAN, compile="default"),
                                  dataclasses.replace(PLAN, precision="bf16")])
def test_compiled_and_bf16_steps_train(plan, fake_workloads):
    session = session_of("tiny_cnn", plan, size=16)
    losses = [session.read_loss(session.step()) for _ in range(STEPS)]
    assert all(math.isfinite(loss) for loss in losses) and losses[-1] < losses[0], losses


def test_a_weights_file_loads(tmp_path, fake_workloads):
    trained = session_of("tiny_cnn", size=16)
    trained.step()
    path = tmp_path / "tiny.safetensors"
    mx.save_safetensors(str(path), dict(tree_flatten(trained.task.model.parameters())))
    loaded = build_task("tiny_cnn", PLAN, seed=1, weights=path)
    fresh = build_task("tiny_cnn", PLAN, seed=1, weights=None)
    expected = dict(tree_flatten(trained.task.model.parameters()))
    assert all(mx.array_equal(value, expected[key]).item()
               for key, value in tree_flatten(loaded.model.parameters()))
    assert not all(mx.array_equal(value, expected[key]).item()
                   for key, value in tree_flatten(fresh.model.parameters()))


# -- real rows -----------------------------------------------------------------------------------------------


def run_rows(tmp_path, plans, **options):
    outcome = batchmark.run_suite(["tiny_cnn"], ["mlx"], plans, quick=True, output=tmp_path / "run.json",
                                  report=False, database=str(tmp_path / "history.sqlite"), **options)
    return outcome.results.rows


def test_a_quick_mlx_row_runs_and_counts_its_flops(tmp_path, fake_workloads):
    (row,) = run_rows(tmp_path, ["baseline"])
    assert row.status == "ok", row.failure
    assert row.plan.framework == "mlx" and row.plan.channels_last and row.statistics.median > 0
    assert row.measured.train_flops_per_sample > 2 * row.measured.forward_flops_per_sample > 0


OPENBLAS = runtime.available_blas().get("openblas")
needs_openblas = pytest.mark.skipif(OPENBLAS is None, reason="libopenblas0-pthread is not installed here "
                                                             "(scripts/test-services.sh installs it)")


@needs_openblas
def test_the_openblas_switch_maps_openblas_into_the_worker():
    plan = dataclasses.replace(PLAN, blas="openblas")
    maps = subprocess.run([sys.executable, "-c", "import mlx.core; print(open('/proc/self/maps').read())"],
                          text=True, capture_output=True, check=True, env=runtime.worker_environment(plan))
    assert str(OPENBLAS.resolve()) in maps.stdout
    assert runtime.not_in_effect(plan) is not None  # pytest itself was started without it


@needs_openblas
def test_a_row_runs_with_openblas(tmp_path, fake_workloads):
    (row,) = run_rows(tmp_path, ["blas=openblas"])
    assert row.status == "ok", row.failure
    assert row.plan.blas == "openblas"


def test_openblas_that_is_not_installed_is_an_unsupported_row(tmp_path, fake_workloads, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv(runtime.ALLOCATOR_DIRS_VARIABLE, str(empty))
    (row,) = run_rows(tmp_path, ["blas=openblas"])
    assert row.status == "failed" and row.failure.kind == "unsupported"
    assert row.failure.message.startswith("blas=openblas: not available here: install libopenblas0-pthread")


def test_a_row_whose_steps_cannot_fit_its_limit_says_so_with_its_speed(tmp_path, fake_workloads):
    # A million timed steps cannot end within 120 s: the worker stops after its warm-up and reports that step.
    (row,) = run_rows(tmp_path, ["baseline"], steps=10**6, timeout=120)
    assert row.status == "failed" and row.failure.kind == "timeout"
    assert row.failure.message.startswith("over the time cap: one step took")
    assert "samples/s" in row.failure.message and "within the row's 120 s" in row.failure.message
    assert row.measured.warmup_seconds and row.measured.step_seconds == []
