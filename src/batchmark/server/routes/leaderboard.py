"""The leaderboard: per workload and size, the best plan of each machine, fastest first."""

from __future__ import annotations

from typing import Annotated, Optional

from fastapi import APIRouter, HTTPException, Path, Query

from batchmark.server import queries
from batchmark.server.deps import FiltersDep, HistoryDep
from batchmark.server.queries import Filters
from batchmark.server.routes.machines import ranked
from batchmark.server.schemas import Leaderboard, Size, WorkloadSummary
from batchmark.workloads.registry import get_workload, workload_names

router = APIRouter(prefix="/api/v1", tags=["leaderboard"])

SizeQuery = Annotated[Optional[int], Query(ge=1, le=2**31 - 1, description="Default: the workload's standard size.")]


def leaderboard_of(history, workload: str, filters: Filters, batch_size: int | None = None,
                   image_size: int | None = None) -> tuple[Leaderboard, list[queries.Entry]]:
    if workload not in workload_names():
        raise HTTPException(404, f"no workload {workload!r}; the leaderboards are {', '.join(workload_names())}")
    spec = get_workload(workload)
    size = (batch_size or spec.batch_size, image_size or spec.image_size)
    entries = queries.best_per_machine(history, filters, workload=workload, size=size)
    board = Leaderboard(workload=workload, batch_size=size[0], image_size=size[1],
                        include_unverified=filters.include_unverified,
                        sizes=[Size(batch_size=batch, image_size=image, rows=rows)
                               for batch, image, rows in queries.sizes(history, workload, filters)],
                        entries=ranked(entries))
    return board, entries


def workload_summaries(history, filters: Filters) -> list[WorkloadSummary]:
    counts = queries.machines_per_workload(history, filters)
    return [WorkloadSummary(workload=name, description=get_workload(name).description,
                            batch_size=get_workload(name).batch_size, image_size=get_workload(name).image_size,
                            machines=counts.get(name, 0)) for name in workload_names()]


@router.get("/leaderboard", response_model=list[WorkloadSummary])
def list_leaderboards(history: HistoryDep, filters: FiltersDep) -> list[WorkloadSummary]:
    """Every workload, with how many machines have a result for it at any size."""
    return workload_summaries(history, filters)


@router.get("/leaderboard/{workload}", response_model=Leaderboard, responses={404: {"description": "No such workload."}})
def get_leaderboard(history: HistoryDep, filters: FiltersDep, workload: Annotated[str, Path(max_length=100)],
                    batch_size: SizeQuery = None, image_size: SizeQuery = None) -> Leaderboard:
    """The best (lowest median seconds per batch) row of each machine for one workload at one size."""
    return leaderboard_of(history, workload, filters, batch_size, image_size)[0]
