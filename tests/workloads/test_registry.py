"""The registry's vocabulary: suites, sizes a workload accepts, and how a batch and its throughput read."""

from __future__ import annotations

import pytest

from batchmark.errors import UnknownNameError
from batchmark.workloads.registry import batch_shape, get_workload, throughput_text, workload_names

SEED = ["resnet50v2_finetune", "mobilenetv3", "densenet121", "cyclegan", "style_transfer"]


def test_the_default_suite_is_the_seed_articles_five_and_modern_is_the_transformers():
    assert workload_names("seed")[:5] == SEED
    assert workload_names("modern") == ["gpt2_124m", "vit_b16"]
    assert set(workload_names("all")) >= {*SEED, "gpt2_124m", "vit_b16"}
    with pytest.raises(UnknownNameError, match="unknown suite 'new'"):
        workload_names("new")


@pytest.mark.parametrize("name, size, problem", [
    ("gpt2_124m", 1024, None), ("gpt2_124m", 1, None), ("gpt2_124m", 1025, "1 to 1024 tokens of context"),
    ("vit_b16", 224, None), ("vit_b16", 240, "exactly 224 pixels"),
    ("densenet121", 33, None), ("densenet121", 16, "at least 32 pixels"),
    ("cyclegan", 512, None), ("cyclegan", 300, "at least 256 and a multiple of 256 pixels"),
])
def test_each_workload_says_which_sizes_it_takes(name, size, problem):
    found = get_workload(name).size_problem(size)
    assert found == (None if problem is None else f"it needs {problem}")


def test_a_language_models_batch_and_throughput_read_in_tokens():
    assert batch_shape("gpt2_124m", 8, 1024) == "8×1024 tokens"
    assert throughput_text("gpt2_124m", 1024, 2.5) == "2.5 (2,560 tok/s)"
    assert batch_shape("mobilenetv3", 32, 224) == "32×224²"
    assert throughput_text("mobilenetv3", 224, 0.149) == "0.149"
    assert batch_shape("someone_elses_model", 4, 64) == "4×64²"  # a plugin's, on a server that lacks it
