"""A machine's identity in the history must not change with the code that computes it: a run measured on a
machine already stored joins that machine, it does not become a second one."""

from __future__ import annotations

import json

from batchmark.results import load_results
from batchmark.store.convert import hardware_of, machine_identity, new_machine
from tests.test_results_file import GOLDEN

# The identity of the machine in tests/data/results-v1.json as the first schema's code computed it, from the
# fingerprint as a plain dict (sha256 of the sorted JSON of its hardware fields).
FIRST_SCHEMA_HARDWARE_KEYS = {"hostname", "cpu", "memory_bytes", "gpus", "system"}


def test_the_identity_of_a_stored_machine_is_what_the_first_schema_computed():
    fingerprint = json.loads(GOLDEN.read_text())["machine"]
    cpu = fingerprint["cpu"]
    as_first_computed = {
        "hostname": fingerprint["hostname"],
        "cpu": {key: cpu.get(key) for key in ("model", "arch", "flags", "physical_cores", "logical_cores")},
        "memory_bytes": fingerprint["memory_bytes"],
        "gpus": [{key: gpu.get(key) for key in ("kind", "name", "memory", "compute_capability")}
                 for gpu in fingerprint["gpus"]],
        "system": fingerprint["os"]["system"],
    }
    hardware = hardware_of(load_results(GOLDEN).machine)
    assert set(hardware) == FIRST_SCHEMA_HARDWARE_KEYS
    assert machine_identity(hardware) == machine_identity(as_first_computed)


def test_a_run_with_capped_instruction_sets_is_another_machine_and_says_so():
    """ONEDNN_MAX_CPU_ISA=AVX2 on an AVX-512 CPU measured 1.5-2x slower without bf16: its runs must not sit
    among the uncapped machine's as if the same hardware had made them."""
    uncapped = load_results(GOLDEN).machine
    capped = uncapped.model_copy(update={"isa_limits": {"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}})
    assert machine_identity(hardware_of(capped)) != machine_identity(hardware_of(uncapped))
    assert new_machine(capped).cpu_model == (f"{uncapped.cpu.model} (capped: ONEDNN_MAX_CPU_ISA=AVX2, "
                                             f"ATEN_CPU_CAPABILITY=avx2)")
    assert new_machine(uncapped).cpu_model == uncapped.cpu.model
