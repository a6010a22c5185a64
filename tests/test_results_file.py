"""The results file keeps every measured value, a diverged loss included."""

from __future__ import annotations

import math

from batchmark.results import load_results
from tests import sample_runs


def test_a_diverged_loss_survives_the_results_file(tmp_path):
    run = sample_runs.standard_run()
    run.rows[0].measured.losses[1] = math.nan
    run.write(tmp_path / "run.json")
    assert math.isnan(load_results(tmp_path / "run.json").rows[0].measured.losses[1])
