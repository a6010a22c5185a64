"""The server's own FLOPs per sample (server/workload_flops.py) against torch's counter: the table is not stale, and
its scaling rule stays a lower bound at sizes between and beyond the counted ones."""

from __future__ import annotations

import pytest

from batchmark.server import workload_flops
from batchmark.workloads.registry import get_workload, workload_names
from tests.workloads.registered import SEED_WORKLOADS, step_sizes, torch_flops_per_sample


def counted(name: str, size: int) -> float:
    from batchmark.frameworks.torch_flops import count_flops
    from batchmark.workloads.registry import implementation

    return count_flops(implementation("torch", name), size)[1]


def test_every_workload_batchmark_ships_has_the_servers_own_figure():
    assert set(workload_flops.COUNTED) == set(SEED_WORKLOADS)  # a new convnet needs its counts here
    for name in (*SEED_WORKLOADS, *workload_names("modern")):
        assert workload_flops.train_flops_per_sample(name, get_workload(name).image_size) > 0, name


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(workload_flops.COUNTED))
def test_the_table_is_what_torchs_counter_counts_today(name):
    table = workload_flops.COUNTED[name]
    assert table.small_size == step_sizes(name)[1]  # the count the workload tests make anyway
    assert torch_flops_per_sample(name)[1] == table.small, "recount with count_flops and update COUNTED"
    assert counted(name, table.large_size) == table.large, "recount with count_flops and update COUNTED"


@pytest.mark.parametrize("name, sizes", [
    ("mobilenetv3", (33, 100, 225, 333)),  # unaligned sizes: pooling rounds down
    ("resnet50v2_finetune", (100, 448)),  # beyond the larger count, where the head's share shrinks
    ("densenet121", (48, 100)),
    ("style_transfer", (100,)),
])
def test_the_scaling_rule_is_a_lower_bound_of_the_real_count(name, sizes):
    for size in sizes:
        real = counted(name, size)
        bound = workload_flops.train_flops_per_sample(name, size)
        assert 0.3 * real <= bound <= real * (1 + 1e-12), (size, bound, real)  # below, and not uselessly so


def test_at_a_counted_size_the_bound_is_the_count():
    for name, table in workload_flops.COUNTED.items():
        assert workload_flops.train_flops_per_sample(name, table.small_size) == table.small
        assert workload_flops.train_flops_per_sample(name, table.large_size) == pytest.approx(table.large, rel=0.02)


def test_the_transformers_follow_the_analytic_estimate():
    # GPT-2 small at 1024 tokens: 6 x 123.6M matmul weights x 1024, plus half of 12 x 12 x 768 x 1024^2 (causal).
    assert workload_flops.train_flops_per_sample("gpt2_124m", 1024) == pytest.approx(817e9, rel=0.001)
    assert workload_flops.train_flops_per_sample("gpt2_124m", 128) == pytest.approx(
        6 * workload_flops.GPT2_MATMUL_PARAMETERS * 128 + 6 * 12 * 768 * 128**2)
    # ViT-B/16: ~35 GFLOP forward, three times that to train (Dosovitskiy et al.'s 17.6 G multiply-adds).
    assert workload_flops.train_flops_per_sample("vit_b16", 224) == pytest.approx(105.15e9, rel=0.001)


def test_a_plugins_workload_has_no_figure():
    assert workload_flops.train_flops_per_sample("tiny_cnn", 16) is None


@pytest.mark.parametrize("name", ["gpt2_124m", "vit_b16"])
def test_the_transformers_estimate_is_a_close_lower_bound_of_torchs_count(name):
    _, size = step_sizes(name)
    real = torch_flops_per_sample(name)[1]
    bound = workload_flops.train_flops_per_sample(name, size)
    assert 0.9 * real <= bound <= real
