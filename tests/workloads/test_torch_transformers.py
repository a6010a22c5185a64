"""What makes GPT-2 and ViT-B/16 the models their papers define, beyond the registry-wide checks.

tests/workloads/test_torch_workloads.py already holds them to their parameter counts, trains every parameter
(the class token and position table included) and sees the loss fall. Here: the tied head is one tensor, the
language model cannot see the future, both attention implementations compute the same function, weight decay
falls on matrices only, and the counted FLOPs are the community's 6·N·tokens + attention estimate.
"""

from __future__ import annotations

import pytest
import torch

from batchmark.workloads.registry import get_workload, implementation
from batchmark.workloads.attention import attention_implementation
from batchmark.workloads.torch.gpt2 import GPT2, GPT2Config, LanguageModelTask
from batchmark.workloads.torch.task import runs_as, optimizer_implementation
from batchmark.workloads.torch.vit import ViT, ViTConfig
from tests.workloads.registered import step_sizes, torch_flops_per_sample

TINY_GPT = GPT2Config(vocabulary=97, context=16, layers=2, heads=4, width=32, mlp_width=128)
IMPLEMENTATIONS = ("fused", "math")


def tiny_gpt(implementation: str) -> GPT2:
    torch.manual_seed(0)
    with attention_implementation(implementation):
        return GPT2(TINY_GPT)


def test_the_output_projection_is_the_token_embedding_itself():
    task = implementation("torch", "gpt2_124m")()
    model = task.model
    embedding = model.token_embedding.weight
    assert not any(isinstance(module, torch.nn.Linear) and module.weight.shape == embedding.shape
                   for module in model.modules())  # no separate head weight
    tokens = torch.randint(0, 50_257, (1, 8))
    model(tokens).sum().backward()
    # The head's gradient reaches the embedding for every row, not only the 8 looked up.
    assert (embedding.grad.abs().sum(dim=1) > 0).sum() > 8


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_changing_a_later_token_leaves_earlier_logits_unchanged(implementation):
    model = tiny_gpt(implementation).eval()
    tokens = torch.randint(0, TINY_GPT.vocabulary, (2, 12), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    t = 6
    changed[:, t + 1] = (changed[:, t + 1] + 1) % TINY_GPT.vocabulary
    with torch.no_grad():
        before, after = model(tokens), model(changed)
    assert torch.equal(before[:, : t + 1], after[:, : t + 1])
    assert not torch.allclose(before[:, t + 1], after[:, t + 1])  # the changed position itself does change


def test_fused_and_math_attention_compute_the_same_function():
    tokens = torch.randint(0, TINY_GPT.vocabulary, (2, 16), generator=torch.Generator().manual_seed(2))
    fused, math_ = tiny_gpt("fused"), tiny_gpt("math")
    math_.load_state_dict(fused.state_dict())
    torch.testing.assert_close(fused(tokens), math_(tokens), rtol=1e-5, atol=1e-5)


def test_a_sequence_longer_than_the_context_is_refused():
    with pytest.raises(ValueError, match="longer than the context"):
        tiny_gpt("fused")(torch.zeros(1, 17, dtype=torch.long))


def test_targets_are_the_inputs_shifted_by_one():
    task = LanguageModelTask(tiny_gpt("fused"), learning_rate=6e-4, betas=(0.9, 0.95), weight_decay=0.1)
    tokens, targets = task.make_batch(3, 10, torch.Generator().manual_seed(0))
    assert tokens.shape == targets.shape == (3, 10)
    assert torch.equal(tokens[:, 1:], targets[:, :-1])


@pytest.mark.parametrize("name", ["gpt2_124m", "vit_b16"])
def test_weight_decay_falls_on_matrices_only(name):
    task = implementation("torch", name)()
    decayed, plain = task.optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decayed["params"])
    assert all(p.dim() == 1 for p in plain["params"]) or name == "vit_b16"
    if name == "vit_b16":  # timm's no_weight_decay: the class token and the position table are not decayed
        model = task.model
        assert any(p is model.class_token for p in plain["params"])
        assert any(p is model.position_embedding for p in plain["params"])
    total = sum(p.numel() for group in (decayed, plain) for p in group["params"])
    assert total == get_workload(name).trainable_parameters


@pytest.mark.parametrize("optimizer", ["foreach", "fused"])
def test_the_plans_optimizer_switch_reaches_adamw(optimizer):
    with optimizer_implementation(optimizer):
        task = implementation("torch", "gpt2_124m")()
    assert isinstance(task.optimizer, torch.optim.AdamW) and runs_as(task.optimizer, optimizer)


def test_vit_classifies_224_images_into_1000_classes_and_refuses_other_sizes():
    torch.manual_seed(0)
    model = ViT(ViTConfig())
    assert model(torch.rand(2, 3, 224, 224)).shape == (2, 1000)
    with pytest.raises(ValueError, match="built for 224x224"):
        model(torch.rand(1, 3, 256, 256))


def matmul_parameters(name: str) -> int:
    """Parameters that take part in a matrix product per token: every Linear and convolution weight, and the tied
    embedding once, as the output projection (looking a token up costs no FLOPs)."""
    model = implementation("torch", name)().model
    weights = [m.weight for m in model.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))]
    if name == "gpt2_124m":
        weights.append(model.token_embedding.weight)
    return sum(w.numel() for w in weights)


@pytest.mark.parametrize("name, tokens_of", [("gpt2_124m", lambda size: size), ("vit_b16", lambda size: 197)])
def test_training_flops_are_six_n_per_token_plus_attention(name, tokens_of):
    """PaLM's MFU formula (Chowdhery et al. 2022, appendix B): 6N per token for the matmuls, forward and
    backward, plus 12 · layers · width · S per token for attention's two products over S positions."""
    _, size = step_sizes(name)
    tokens = tokens_of(size)
    layers, width = 12, 768
    estimate = tokens * (6 * matmul_parameters(name) + 12 * layers * width * tokens)
    _, counted = torch_flops_per_sample(name)
    assert counted == pytest.approx(estimate, rel=0.02)
