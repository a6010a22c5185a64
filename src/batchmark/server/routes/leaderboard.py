"""The leaderboard: per workload and size, the best plan of each machine, fastest first, a page at a time."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from batchmark.server import views
from batchmark.server.deps import FiltersDep, HistoryDep, SizeQuery
from batchmark.server.pagination import PageDep, link_next, page_links
from batchmark.server.schemas import Leaderboard, WorkloadSummary

router = APIRouter(prefix="/api/v1", tags=["leaderboard"])


@router.get("/leaderboard", response_model=list[WorkloadSummary])
def list_leaderboards(history: HistoryDep, filters: FiltersDep) -> list[WorkloadSummary]:
    """Every workload, with how many machines have a result for it at any size."""
    return views.workload_summaries(history, filters)


@router.get("/leaderboard/{workload}", response_model=Leaderboard, responses={404: {"description": "No such workload."}})
def get_leaderboard(request: Request, response: Response, history: HistoryDep, filters: FiltersDep,
                    workload: Annotated[str, Path(max_length=100)], page: PageDep, batch_size: SizeQuery = None,
                    image_size: SizeQuery = None) -> Leaderboard:
    """A page of the best (lowest median seconds per batch) row of each machine for one workload at one size;
    ranks count from the first page, and a `Link: <...>; rel="next"` header names the next page if any."""
    board, _, more = views.leaderboard(history, workload, filters, batch_size, image_size, page)
    link_next(response, page_links(request, page, more).next)
    return board
