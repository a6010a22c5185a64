"""Submitted runs: the newest first, and one in full with its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from batchmark.server import queries, views
from batchmark.server.deps import HistoryDep
from batchmark.server.pagination import link_next, relative_url
from batchmark.server.schemas import RunDetail, RunListing

router = APIRouter(prefix="/api/v1", tags=["runs"])


@router.get("/runs", response_model=list[RunListing])
def list_runs(request: Request, response: Response, history: HistoryDep,
              limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> list[RunListing]:
    """Submitted runs, the most recently submitted first; a `Link: <...>; rel="next"` header names the next
    `limit` of them if any."""
    listed = queries.submitted_runs(history, limit=limit + 1, offset=offset)
    if len(listed) > limit:
        link_next(response, relative_url(request, offset=offset + limit))
    return listed[:limit]


@router.get("/runs/{run_id}", response_model=RunDetail, responses={404: {"description": "No such submitted run."}})
def get_run(history: HistoryDep, run_id: Annotated[str, Path(max_length=64)]) -> RunDetail:
    """One submitted run in full: every row and raw sample, its fingerprint, and why it is unverified if so."""
    return views.run_detail(history, run_id)[0]
