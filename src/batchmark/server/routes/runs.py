"""Submitted runs: the newest first, and one in full with its verification."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query

from batchmark.server import queries
from batchmark.server.deps import HistoryDep
from batchmark.server.schemas import RunDetail, RunSummary
from batchmark.store import convert

router = APIRouter(prefix="/api/v1", tags=["runs"])


@router.get("/runs", response_model=list[RunSummary])
def list_runs(history: HistoryDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
              offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0) -> list[RunSummary]:
    """Submitted runs, the most recently submitted first."""
    return queries.submitted_runs(history, limit=limit, offset=offset)


def run_detail(history, run_id: str) -> RunDetail:
    found = queries.run_with_submission(history, run_id)
    if found is None:
        raise HTTPException(404, f"no submitted run {run_id!r} on this server")
    results, submission, machine = found
    return RunDetail(run=results, machine=queries.machine_key(machine),
                     submitted_at=convert.format_time(submission.submitted_at), verified=submission.verified,
                     reasons=submission.reasons)


@router.get("/runs/{run_id}", response_model=RunDetail, responses={404: {"description": "No such submitted run."}})
def get_run(history: HistoryDep, run_id: Annotated[str, Path(max_length=64)]) -> RunDetail:
    """One submitted run in full: every row and raw sample, its fingerprint, and why it is unverified if so."""
    return run_detail(history, run_id)
