"""A machine's identity in the history must not change with the code that computes it: a run measured on a
machine already stored joins that machine, it does not become a second one."""

from __future__ import annotations

import json

from batchmark.results import load_results
from batchmark.store.convert import hardware_of, machine_identity
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
