"""The results file keeps every measured value, a diverged loss included."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from batchmark.errors import ResultsFormatError
from batchmark.machine import Fingerprint
from batchmark.plans import RUNTIME_DEFAULTS, Plan
from batchmark.results import load_results
from tests import sample_runs


def test_a_diverged_loss_survives_the_results_file(tmp_path):
    run = sample_runs.standard_run()
    run.rows[0].measured.losses[1] = math.nan
    run.write(tmp_path / "run.json")
    assert math.isnan(load_results(tmp_path / "run.json").rows[0].measured.losses[1])


GOLDEN = Path(__file__).parent / "data" / "results-v1.json"


def test_a_results_file_of_the_first_schema_still_loads_typed_and_unchanged():
    """results-v1.json was written by batchmark before plans and fingerprints were typed (a real quick run of
    tiny_cnn, and of oom failing): it must keep loading, into typed objects, and write back the same JSON, with
    only the keys added since, at their defaults."""
    original = json.loads(GOLDEN.read_text())
    loaded = load_results(GOLDEN)
    assert isinstance(loaded.machine, Fingerprint) and loaded.machine.cpu.logical_cores >= 1
    assert all(isinstance(row.plan, Plan) for row in loaded.rows)
    assert {row.status for row in loaded.rows} == {"ok", "failed"}
    written = json.loads(loaded.model_dump_json())
    assert (written.pop("budget_seconds"), written.pop("not_run"), written.pop("screenings")) == (None, [], [])
    assert written["machine"].pop("isa_limits") == {}  # no instruction-set cap recorded: the whole CPU
    for row in written["rows"]:  # the keys added since, each at the default that means "as before"
        assert row.pop("also_labels") == []
        assert (row.pop("notes"), row.pop("wall_seconds")) == ([], None)
        assert row.pop("world_size") == 1  # one process, as every row was before data-parallel rows
        assert [row.pop(key) for key in ("aggregate_samples_per_second", "scaling_efficiency",
                                         "scaling_efficiency_ci_low", "scaling_efficiency_ci_high")] == [None] * 4
        assert [row.pop(key) for key in ("joules_per_batch", "average_watts", "samples_per_joule",
                                         "energy_note")] == [None] * 4
        if row["measured"] is not None:
            assert (row["measured"].pop("stopped_by"), row["measured"].pop("precision_target")) == (None, None)
            assert row["measured"].pop("distributed_backend") is None
            assert (row["measured"].pop("energy"), row["measured"].pop("energy_missing"),
                    row["measured"].pop("clocks")) == (None, None, [])
        assert {switch: row["plan"].pop(switch) for switch in RUNTIME_DEFAULTS} == RUNTIME_DEFAULTS
    assert written == original


def test_a_results_file_with_a_bad_plan_is_one_clear_error(tmp_path):
    data = json.loads(GOLDEN.read_text())
    data["rows"][0]["plan"]["channels_last"] = "sideways"
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ResultsFormatError, match=r"rows\.0\.plan\.channels_last"):
        load_results(tmp_path / "bad.json")
