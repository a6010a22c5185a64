"""An instruction-set cap (ONEDNN_MAX_CPU_ISA=AVX2 and the like) makes another machine of this one: the
fingerprint says so, bf16 is not claimed, and peaks and tuned plans are not shared with the uncapped machine."""

from __future__ import annotations

import json

import pytest

from batchmark import machine
from batchmark.engine.calibration import fingerprint_hash, hardware_key
from batchmark.machine import CpuFingerprint
from batchmark.server.validation import SubmissionRefused, parse_submission
from tests import sample_runs
from tests.helpers import batchmark

BF16_CPU = CpuFingerprint(model="AMD EPYC", arch="x86_64", flags=["avx2", "avx512f", "avx512_bf16"],
                          physical_cores=2, logical_cores=2)


@pytest.fixture
def bf16_cpu(monkeypatch):
    monkeypatch.setattr(machine, "cpu_info", lambda: BF16_CPU)
    for name in machine.ISA_LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("variable, value, bf16", [
    ("ONEDNN_MAX_CPU_ISA", "AVX2", False), ("DNNL_MAX_CPU_ISA", "avx512_core", False),
    ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16", True), ("ATEN_CPU_CAPABILITY", "avx2", True),
])
def test_a_onednn_cap_below_bf16_takes_bf16_away(bf16_cpu, monkeypatch, variable, value, bf16):
    assert machine.cpu_has_fast_bf16()
    monkeypatch.setenv(variable, value)
    assert machine.cpu_has_fast_bf16() is bf16
    assert machine.fingerprint().isa_limits == {variable: value}


def test_a_capped_machine_shares_no_calibration_or_tuned_plan_with_the_uncapped_one(bf16_cpu, monkeypatch):
    uncapped = machine.fingerprint()
    assert uncapped.isa_limits == {}
    # The uncapped key is what it was before caps were recorded: caches written then are still found.
    assert "isa_limits" not in hardware_key(uncapped)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert fingerprint_hash(machine.fingerprint()) != fingerprint_hash(uncapped)


def test_info_says_the_kernels_are_capped(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    result = batchmark("info")
    assert result.returncode == 0
    assert "ISA capped" in result.stdout and "ONEDNN_MAX_CPU_ISA=AVX2" in result.stdout
    assert json.loads(batchmark("info", "--json").stdout)["isa_limits"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}


def test_the_server_bounds_what_a_client_claims_as_caps():
    run = sample_runs.standard_run()
    run.machine.isa_limits = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    accepted, _ = parse_submission(run.model_dump_json().encode())
    assert accepted.machine.isa_limits == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    flooded = json.loads(run.model_dump_json())
    flooded["machine"]["isa_limits"] = {f"VARIABLE_{index}": "x" for index in range(100)}
    with pytest.raises(SubmissionRefused, match="isa_limits"):
        parse_submission(json.dumps(flooded).encode())
