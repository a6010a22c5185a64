"""Two machines side by side: each one's best plan on every workload and size both have measured."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from batchmark.server import queries
from batchmark.server.deps import FiltersDep, HistoryDep
from batchmark.server.queries import Filters
from batchmark.server.routes.machines import find, public, ranked
from batchmark.server.schemas import ComparedPair, Comparison

router = APIRouter(prefix="/api/v1", tags=["compare"])

MachineQuery = Annotated[str, Query(min_length=queries.MIN_MACHINE_KEY, max_length=64,
                                    description="A machine's key, as /api/v1/machines lists them.")]


def comparison(history, a: str, b: str, filters: Filters) -> tuple[Comparison, list[queries.Entry]]:
    machine_a, _ = find(history, a)
    machine_b, _ = find(history, b)
    pairs = queries.compare_machines(history, machine_a, machine_b, filters)
    compared = Comparison(a=public(machine_a), b=public(machine_b),
                          pairs=[ComparedPair(workload=entry_a.workload, batch_size=entry_a.batch_size,
                                              image_size=entry_a.image_size, a=ranked([entry_a])[0],
                                              b=ranked([entry_b])[0], ratio=entry_b.median / entry_a.median)
                                 for entry_a, entry_b in pairs])
    return compared, [entry for pair in pairs for entry in pair]


@router.get("/compare", response_model=Comparison, responses={404: {"description": "No such machine."}})
def compare_machines(history: HistoryDep, filters: FiltersDep, a: MachineQuery, b: MachineQuery) -> Comparison:
    """Machine b against machine a on every shared workload and size: ratio = b's median ÷ a's."""
    return comparison(history, a, b, filters)[0]
