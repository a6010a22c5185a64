"""Two machines side by side: each one's best plan on every workload and size both have measured."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from batchmark.server import queries, views
from batchmark.server.deps import FiltersDep, HistoryDep
from batchmark.server.schemas import MachineComparison

router = APIRouter(prefix="/api/v1", tags=["compare"])

MachineQuery = Annotated[str, Query(min_length=queries.MIN_MACHINE_KEY, max_length=64,
                                    description="A machine's key, as /api/v1/machines lists them.")]


@router.get("/compare", response_model=MachineComparison, responses={404: {"description": "No such machine."}})
def compare_machines(history: HistoryDep, filters: FiltersDep, a: MachineQuery, b: MachineQuery) -> MachineComparison:
    """Machine b against machine a on every shared workload and size: ratio = b's median ÷ a's."""
    return views.comparison(history, a, b, filters)[0]
