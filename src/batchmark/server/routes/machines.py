"""Machines that submitted runs: their fingerprints, runs and best rows with % of their measured peak."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from batchmark.server import queries, views
from batchmark.server.deps import FiltersDep, HistoryDep
from batchmark.server.schemas import MachineDetail, MachineSummary

router = APIRouter(prefix="/api/v1", tags=["machines"])

MachineKey = Annotated[str, Path(min_length=queries.MIN_MACHINE_KEY, max_length=64,
                                 description="The machine's key: a unique prefix of its identity hash.")]


@router.get("/machines", response_model=list[MachineSummary])
def list_machines(history: HistoryDep) -> list[MachineSummary]:
    """Every machine with a submitted run, the most recently submitted first."""
    return views.machines(history)


@router.get("/machines/{machine}", response_model=MachineDetail,
            responses={404: {"description": "No such machine, or the prefix names several."}})
def get_machine(history: HistoryDep, filters: FiltersDep, machine: MachineKey) -> MachineDetail:
    """One machine: its fingerprint, submitted runs, and best row per workload with % of its measured peak."""
    return views.machine_detail(history, machine, filters)
