"""Machines that submitted runs: their fingerprints, runs and best rows with % of their measured peak."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from batchmark.server import queries, views
from batchmark.server.deps import FiltersDep, HistoryDep
from batchmark.server.pagination import PageDep, link_next, page_links
from batchmark.server.schemas import MachineDetail, MachineSummary

router = APIRouter(prefix="/api/v1", tags=["machines"])

MachineKey = Annotated[str, Path(min_length=queries.MIN_MACHINE_KEY, max_length=64,
                                 description="The machine's key: a unique prefix of its identity hash.")]


@router.get("/machines", response_model=list[MachineSummary])
def list_machines(request: Request, response: Response, history: HistoryDep, page: PageDep) -> list[MachineSummary]:
    """A page of the machines with a submitted run, the most recently submitted first; a
    `Link: <...>; rel="next"` header names the next page if any."""
    listed, more = views.machines(history, page)
    link_next(response, page_links(request, page, more).next)
    return [views.public(machine) for machine in listed]


@router.get("/machines/{machine}", response_model=MachineDetail,
            responses={404: {"description": "No such machine, or the prefix names several."}})
def get_machine(request: Request, response: Response, history: HistoryDep, filters: FiltersDep, machine: MachineKey,
                page: PageDep) -> MachineDetail:
    """One machine: its fingerprint, a page of its submitted runs (`Link: <...>; rel="next"` names the next),
    and its best row per workload with % of its measured peak."""
    detail, more = views.machine_detail(history, machine, filters, page)
    link_next(response, page_links(request, page, more).next)
    return detail
