"""Machines that submitted runs: their fingerprints, runs and best rows with % of their measured peak."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from batchmark.server import queries
from batchmark.server.deps import FiltersDep, HistoryDep
from batchmark.server.queries import Filters
from batchmark.server.schemas import LeaderboardEntry, MachineDetail, MachineSummary

router = APIRouter(prefix="/api/v1", tags=["machines"])

MachineKey = Annotated[str, Path(min_length=queries.MIN_MACHINE_KEY, max_length=64,
                                 description="The machine's key: a unique prefix of its identity hash.")]


@router.get("/machines", response_model=list[MachineSummary])
def list_machines(history: HistoryDep) -> list[MachineSummary]:
    """Every machine with a submitted run, the most recently submitted first."""
    return [public(machine) for machine in queries.machines(history)]


def public(machine: queries.MachineListing) -> MachineSummary:
    return MachineSummary.model_validate(machine.model_dump(exclude={"id"}))


def find(history, key: str) -> tuple[queries.MachineListing, dict]:
    found = queries.find_machine(history, key)
    if found is None:
        raise HTTPException(404, f"no machine {key!r} on this server (or the prefix names several)")
    return found


def ranked(entries: list[queries.Entry]) -> list[LeaderboardEntry]:
    return [LeaderboardEntry.model_validate({**entry.model_dump(exclude={"result_id"}), "rank": rank})
            for rank, entry in enumerate(entries, 1)]


def machine_detail(history, key: str, filters: Filters) -> MachineDetail:
    machine, fingerprint = find(history, key)
    best = sorted(queries.best_per_machine(history, filters, machine_ids=[machine.id]),
                  key=lambda entry: (queries.workload_order(entry.workload), -entry.batch_size, -entry.image_size))
    return MachineDetail(machine=public(machine), fingerprint=fingerprint,
                         runs=queries.submitted_runs(history, machine_id=machine.id, limit=500),
                         best=ranked(best))


@router.get("/machines/{machine}", response_model=MachineDetail,
            responses={404: {"description": "No such machine, or the prefix names several."}})
def get_machine(history: HistoryDep, filters: FiltersDep, machine: MachineKey) -> MachineDetail:
    """One machine: its fingerprint, submitted runs, and best row per workload with % of its measured peak."""
    return machine_detail(history, machine, filters)
