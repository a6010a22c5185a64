"""A results file with data-parallel rows is accepted, and its scaling efficiency is the server's own."""

import json
import re

import pytest

from batchmark.server.validation import SubmissionRefused, parse_submission
from tests.sample_runs import ok_row, run


def submitted(**group_fields) -> bytes:
    alone = ok_row("mobilenetv3", "torch", "baseline", [1.0, 1.0, 1.1, 0.9, 1.0], threads=1)
    group = ok_row("mobilenetv3", "torch", "baseline", [1.25, 1.25, 1.3, 1.2, 1.25], threads=1)
    data = json.loads(run([alone, group]).model_dump_json())
    data["rows"][1].update(group_fields)
    return json.dumps(data).encode()


def test_a_forged_efficiency_is_recomputed_from_the_samples():
    results, _ = parse_submission(submitted(world_size=2, scaling_efficiency=1.0, aggregate_samples_per_second=1e9))
    group = results.rows[1]
    assert group.world_size == 2
    assert group.scaling_efficiency == pytest.approx(1.0 / 1.25)
    assert group.aggregate_samples_per_second == pytest.approx(2 * 32 / 1.25)


def test_a_world_size_below_one_is_refused_in_one_line():
    with pytest.raises(SubmissionRefused, match=r"rows\.1\.world_size"):
        parse_submission(submitted(world_size=0))


def test_a_paged_run_compares_each_row_with_the_baseline_of_its_world_size(client, token):
    """A page of a run's rows finds its baselines in the database, keyed as apply_speedups keys them: a
    two-process row against the two-process baseline, not the one-process one."""
    from tests.server.conftest import bearer

    alone = ok_row("mobilenetv3", "torch", "baseline", [1.0, 1.0, 1.1, 0.9, 1.0], threads=1)
    group = ok_row("mobilenetv3", "torch", "baseline", [1.25, 1.25, 1.3, 1.2, 1.25], threads=1)
    faster = ok_row("mobilenetv3", "torch", "accelerated", [0.625, 0.625, 0.65, 0.6, 0.625], threads=1)
    data = json.loads(run([group, alone, faster]).model_dump_json())  # the one-process baseline stored last
    data["rows"][0]["world_size"] = data["rows"][2]["world_size"] = 2
    assert client.post("/api/v1/runs", content=json.dumps(data).encode(), headers=bearer(token)).status_code == 201
    whole = client.get(f"/api/v1/runs/{data['run_id']}").json()["run"]["rows"]
    assert whole[2]["speedup_vs_baseline"] == pytest.approx(2.0)
    last_page = client.get(f"/runs/{data['run_id']}", params={"page_size": 1, "page": 3}).text
    assert re.findall(r'data-field="speedup" data-value="([^"]+)"', last_page) == ["2.0"]  # its baseline: page 2
