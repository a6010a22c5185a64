"""MLX: every workload it implements held to its spec and to PyTorch's FLOPs, real steps on a fixed batch, the
honest evaluation of a lazy step, weights files, and real rows with the BLAS switch and the time cap.

Parametrized over the registry as the PyTorch and Keras tests are: a workload with no MLX twin
(docs/limitations.md) is skipped by name. Tiny sizes: MLX's Linux wheel bundles the reference BLAS, 25-30x
slower than OpenBLAS here, so the steps are on the smallest inputs each architecture takes (ViT-B/16 takes only
224x224: its step is the slowest here, minutes; CycleGAN's steps run on scaled-down tables, `scaled_down`).
"""

from __future__ import annotations

import dataclasses
import functools
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


def scaled_down(name: str, monkeypatch) -> int | None:
    """CycleGAN's smallest input is 256x256, where one MLX step takes minutes on this CPU (MLX's strided and
    transposed convolutions take its slow path): its steps run the same code with narrower, shallower tables
    (a 5-block U-Net, no 1x1 bottleneck) at 64x64. ViT-B/16 takes only 224x224, where a step of the bundled
    BLAS took 45 s, and GPT-2's 124M parameters take seconds an update: both train as two narrow blocks of the
    same code (their full size is held to the spec by the parameter and FLOP tests). Returns the image size,
    or None for the workload's own."""
    if name in ("vit_b16", "gpt2_124m"):
        from batchmark.workloads.mlx import gpt2, vit

        narrow = dict(layers=2, heads=2, width=32, mlp_width=64)
        if name == "vit_b16":
            monkeypatch.setattr(vit, "ViTConfig", functools.partial(vit.ViTConfig, classes=10, **narrow))
        else:
            monkeypatch.setattr(gpt2, "GPT2Config", functools.partial(gpt2.GPT2Config, vocabulary=97, **narrow))
        return None
    if name != "cyclegan":
        return None
    from batchmark.workloads.mlx import cyclegan

    down = [(8, False), (16, True), (16, True), (16, True), (16, True)]
    monkeypatch.setattr(cyclegan, "DOWN_STACK", down)
    monkeypatch.setattr(cyclegan, "DISCRIMINATOR_DOWN_STACK", down[:3])
    monkeypatch.setattr(cyclegan, "UP_STACK", [(16, True), (16, False), (16, False), (8, False)])
    return 64


@each_workload
def test_loss_falls_on_a_fixed_batch_and_every_trainable_weight_moves(name, monkeypatch):
    implemented(name)
    session = session_of(name, size=scaled_down(name, monkeypatch))
    before = dict(tree_flatten(session.task.model.trainable_parameters()))
    losses = [session.read_loss(session.step()) for _ in range(STEPS)]
    assert all(math.isfinite(loss) for loss in losses)
    if name != "resnet50v2_finetune":  # lr 1e-5: a few steps move it too little to see
        # Adam's first steps may overshoot (style transfer's loss spikes at step 1, as in the torch twin's test).
        assert min(losses[2:]) < losses[0], losses
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


def test_a_step_that_leaves_out_one_of_cyclegans_four_optimizers_is_refused(monkeypatch):
    session = session_of("cyclegan", size=scaled_down("cyclegan", monkeypatch))
    kept = [optimizer.state for name, optimizer in session.optimizers.items() if name != "discriminator_y"]
    session.evaluated = lambda loss: [loss, session.task.model.state, kept]
    with pytest.raises(Unsupported, match="optimizer.discriminator_y"):
        session.step()


def test_cyclegans_two_gradients_are_each_loss_with_respect_to_its_own_network(monkeypatch):
    """The MLX step differentiates two sums (cyclegan.py); each network must get its own loss's gradient."""
    import mlx.nn as nn

    size = scaled_down("cyclegan", monkeypatch)
    task = build_task("cyclegan", PLAN, seed=0, weights=None)
    task.model.eval()  # no dropout, so that every pass below computes the same function
    real_x, real_y = task.make_batch(1, size, 0)
    (_, _, fake_x, fake_y), gradients = nn.value_and_grad(task.generators, task._generators_objective)(real_x, real_y)
    _, discriminators = nn.value_and_grad(task.discriminators, task._discriminators_objective)(
        real_x, real_y, fake_x, fake_y)
    gradients |= discriminators
    for name, network in task.networks.items():
        _, own = nn.value_and_grad(network, lambda: task.losses(real_x, real_y)[name])()
        for (key, combined), (_, expected) in zip(tree_flatten(gradients[name]), tree_flatten(own)):
            assert mx.allclose(combined, expected, rtol=1e-4, atol=1e-6).item(), f"{name}.{key}"


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


# -- the transformers ----------------------------------------------------------------------------------------
# What makes GPT-2 and ViT-B/16 their papers' models beyond the registry-wide checks, as
# tests/workloads/test_torch_transformers.py holds the PyTorch twins: behaviour on a tiny GPT-2, structure on the
# full-size models (lazy: building them computes nothing).


def tiny_gpt(attention: str):
    from batchmark.workloads.attention import attention_implementation
    from batchmark.workloads.mlx.gpt2 import GPT2, GPT2Config

    mx.random.seed(0)
    with attention_implementation(attention):
        return GPT2(GPT2Config(vocabulary=97, context=16, layers=2, heads=4, width=32, mlp_width=128))


def test_the_output_projection_is_the_token_embedding_itself():
    import mlx.nn as nn

    model = implementation("mlx", "gpt2_124m")().model
    vocabulary_sized = [name for name, array in tree_flatten(model.trainable_parameters()) if 50_257 in array.shape]
    assert vocabulary_sized == ["token_embedding.weight"]
    tiny = tiny_gpt("fused")
    tokens = mx.array([[1, 2, 3, 4, 5, 6, 7, 8]])
    _, gradients = nn.value_and_grad(tiny, lambda model: model(tokens).sum())(tiny)
    # The head's gradient reaches every row of the embedding, not only the 8 looked up.
    assert (mx.abs(gradients["token_embedding"]["weight"]).sum(axis=1) > 0).sum().item() > 8


@pytest.mark.parametrize("attention", ["fused", "math"])
def test_changing_a_later_token_leaves_earlier_logits_unchanged(attention):
    model = tiny_gpt(attention)
    tokens = mx.random.randint(0, 97, (2, 12), key=mx.random.key(1))
    t = 6
    changed = mx.concatenate([tokens[:, : t + 1], (tokens[:, t + 1 : t + 2] + 1) % 97, tokens[:, t + 2 :]], axis=1)
    before, after = model(tokens), model(changed)
    assert mx.array_equal(before[:, : t + 1], after[:, : t + 1]).item()
    assert not mx.allclose(before[:, t + 1], after[:, t + 1]).item()  # the changed position itself does change


def test_fused_and_math_attention_compute_the_same_function():
    tokens = mx.random.randint(0, 97, (2, 16), key=mx.random.key(2))
    fused, math_ = tiny_gpt("fused"), tiny_gpt("math")
    math_.update(fused.parameters())
    assert mx.allclose(fused(tokens), math_(tokens), rtol=1e-5, atol=1e-5).item()


def test_the_plans_attention_switch_reaches_every_attention_layer():
    from batchmark.workloads.mlx.attention import ScaledDotProductAttention

    for attention in ("fused", "math"):
        task = build_task("gpt2_124m", dataclasses.replace(PLAN, attention=attention), seed=0, weights=None)
        layers = [m for _, m in task.model.named_modules() if isinstance(m, ScaledDotProductAttention)]
        assert len(layers) == 12 and {layer.implementation for layer in layers} == {attention}


def test_token_ids_stay_integers_and_targets_are_the_inputs_shifted_by_one():
    tokens, targets = session_of("gpt2_124m", dataclasses.replace(PLAN, precision="bf16"), size=10).batch
    assert tokens.dtype == targets.dtype == mx.int32 and tokens.shape == targets.shape == (2, 10)
    assert mx.array_equal(tokens[:, 1:], targets[:, :-1]).item()


def test_a_sequence_longer_than_the_context_is_refused():
    with pytest.raises(ValueError, match="longer than the context"):
        tiny_gpt("fused")(mx.zeros((1, 17), dtype=mx.int32))


@pytest.mark.parametrize("name", ["gpt2_124m", "vit_b16"])
def test_weight_decay_falls_on_matrices_only(name):
    task = implementation("mlx", name)()
    decayed, plain = task.optimizer.optimizers
    assert decayed.weight_decay == 0.1 and plain.weight_decay == 0.0
    goes_to_decayed = task.optimizer.filters[0]
    parameters = tree_flatten(task.model.trainable_parameters())
    decayed_arrays = [array for path, array in parameters if goes_to_decayed(path, array)]
    plain_names = [path for path, array in parameters if not goes_to_decayed(path, array)]
    assert decayed_arrays and all(array.ndim >= 2 for array in decayed_arrays)
    if name == "vit_b16":  # timm's no_weight_decay: the class token and the position table are not decayed
        assert {"class_token", "position_embedding"} <= set(plain_names)
    else:  # nanoGPT's rule: every array of 2 or more dimensions is decayed
        assert all(array.ndim == 1 for path, array in parameters if path in plain_names)
    assert sum(array.size for _, array in parameters) == get_workload(name).trainable_parameters


def test_vit_classifies_224_images_into_1000_classes_and_refuses_other_sizes():
    model = implementation("mlx", "vit_b16")().model
    assert model(mx.zeros((2, 224, 224, 3))).shape == (2, 1000)  # lazy: the shape alone, nothing computed
    with pytest.raises(ValueError, match="built for 224x224"):
        model(mx.zeros((1, 256, 256, 3)))
