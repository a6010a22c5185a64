"""The Keras GPT-2 and ViT-B/16 on TensorFlow and JAX: what the registry-wide parity tests cannot see.

tests/frameworks/test_keras_parity.py already holds both to their specs at full size (parameters, FLOPs against
PyTorch's, a step training every variable on TensorFlow). Here: the tied embedding, causality, the class token
and position table, the plan's attention switch reaching every layer and the traced step, both attention
implementations computing the same function, and each framework's FLOP count equal to the analytic formula.
Behaviour is measured on tiny configurations; parameter counts and the tied embedding on the full-size models.
Each framework runs in a process of its own (`keras_transformers_report`), as in the parity tests.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from batchmark.plans import ATTENTIONS
from batchmark.workloads.registry import get_workload
from tests.frameworks.keras_report import measure_in_own_process
from tests.workloads.keras_transformers_report import BATCH, TINY_GPT2, TINY_VIT, TOKENS

pytestmark = pytest.mark.slow
each_framework = pytest.mark.parametrize("framework", ["tensorflow", "jax"])
each_attention = pytest.mark.parametrize("attention", ATTENTIONS)
each_model = pytest.mark.parametrize("model", ["gpt2", "vit"])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """framework -> what `keras_transformers_report` measured there; one process per framework and module."""

    @functools.cache
    def measure(framework: str) -> dict:
        return measure_in_own_process("tests.workloads.keras_transformers_report", framework,
                                      tmp_path_factory.mktemp(f"keras-transformers-{framework}"), timeout=600)

    return measure


@each_framework
def test_full_size_parameter_counts_equal_the_specs(report, framework):
    full_size = report(framework)["full_size"]
    assert full_size["gpt2_parameters"] == get_workload("gpt2_124m").trainable_parameters == 124_439_808
    assert full_size["vit_parameters"] == get_workload("vit_b16").trainable_parameters == 86_567_656


@each_framework
def test_the_output_projection_is_the_token_embedding(report, framework):
    measured = report(framework)
    # One variable of vocabulary size, the embedding: no separate output weight.
    assert measured["full_size"]["gpt2_vocabulary_sized"] == [measured["full_size"]["gpt2_token_embedding"]]
    for attention in ATTENTIONS:
        # Rows of ids the batch never feeds in can only get a gradient through the output projection.
        assert measured["gpt2"][attention]["unseen_rows_gradient"] > 0


@each_framework
def test_token_ids_reach_the_model_as_int32(report, framework):
    assert report(framework)["gpt2"]["fused"]["batch_dtypes"] == ["int32", "int32"]


@each_framework
@each_attention
def test_every_attention_layer_follows_the_plan(report, framework, attention):
    measured = report(framework)
    for model in ("gpt2", "vit"):
        assert measured[model][attention]["layer_implementations"] == [attention]
    if framework == "tensorflow":  # the traced step really runs it: Keras's op is einsums, the math matmuls
        expected = {"fused": ["Einsum"], "math": ["BatchMatMulV2"]}[attention]
        assert measured["gpt2"][attention]["step_op_types"] == expected


@each_framework
@each_attention
def test_changing_a_token_leaves_the_logits_before_it_unchanged(report, framework, attention):
    measured = report(framework)["gpt2"][attention]
    assert measured["moved_before"] <= 1e-6
    assert measured["moved_from"] > 1e-3  # the change is seen from its own position on


@each_framework
@each_attention
@each_model
def test_every_trainable_variable_gets_a_gradient(report, framework, attention, model):
    measured = report(framework)[model][attention]
    assert measured["zero_gradients"] == []
    assert measured.get("finite_gradients", True)


@each_framework
@each_attention
@each_model
def test_loss_falls_on_a_fixed_batch(report, framework, attention, model):
    losses = report(framework)[model][attention]["losses"]
    assert all(map(math.isfinite, losses)), losses
    assert min(losses[2:]) < losses[0], losses


@each_framework
@each_model
def test_both_attention_implementations_compute_the_same_function(report, framework, model):
    fused, plain = (report(framework)[model][attention] for attention in ("fused", "math"))
    # Same seed, same initial weights: only the attention code differs.
    np.testing.assert_allclose(fused["logits"], plain["logits"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fused["losses"], plain["losses"], rtol=1e-4)


@each_framework
def test_vit_trains_its_class_token_and_positions_and_gives_one_logit_per_class(report, framework):
    measured = report(framework)
    assert measured["full_size"]["vit_output_shape"] == [None, 1000]
    for attention in ATTENTIONS:
        assert measured["vit"][attention]["tokens_trained"] == {"class_token": True, "position_embedding": True}
        assert measured["vit"][attention]["output_shape"] == [BATCH, 1000]


def gpt2_flops(layers, width, mlp_width, vocabulary, tokens, **_) -> tuple[int, int]:
    """Per sample: 2 FLOPs per MAC of every matmul (the tied head included), and attention's QK^T and PV in full
    (S x S, no causal discount, as torch's counter and PaLM's MFU formula count them); backward = 2 x forward."""
    matmul_parameters = layers * (4 * width * width + 2 * width * mlp_width) + vocabulary * width
    forward = 2 * matmul_parameters * tokens + 4 * layers * tokens ** 2 * width
    return forward, 3 * forward


def vit_flops(image_size, patch, layers, width, mlp_width, classes=1000, **_) -> tuple[int, int]:
    """As gpt2_flops over 1 + patches tokens, with the patch convolution and the head on the class token alone;
    the images need no gradient, so the patch convolution's backward is its weight gradient only."""
    patches = (image_size // patch) ** 2
    tokens = patches + 1
    patch_macs = patches * patch ** 2 * 3 * width
    block_macs = tokens * layers * (4 * width * width + 2 * width * mlp_width) + 2 * layers * tokens ** 2 * width
    forward = 2 * (patch_macs + block_macs + width * classes)
    return forward, 3 * forward - 2 * patch_macs


@each_framework
@each_attention
def test_flops_equal_the_analytic_count(report, framework, attention):
    measured = report(framework)
    assert measured["gpt2"][attention]["flops"] == list(gpt2_flops(**TINY_GPT2, tokens=TOKENS))
    assert measured["vit"][attention]["flops"] == list(vit_flops(**TINY_VIT))



def test_jax_counts_cudnn_fused_attention_as_its_xla_twin(report):
    # On an NVIDIA GPU under bf16/fp16, Keras's op runs cuDNN's kernel: one primitive, which must not count zero.
    flops = report("jax")["cudnn_attention_flops"]
    batch, length, heads, width = 2, 8, 4, 16  # as keras_transformers_report traces it
    forward = 2 * 2 * batch * heads * length * length * width  # QK^T and PV, 2 FLOPs per multiply-accumulate
    assert flops == {"cudnn": 3 * forward, "xla": 3 * forward}
