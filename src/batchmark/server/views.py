"""What the JSON routes and the HTML pages both show: response models built from the queries' rows.

A route module serves one resource and imports these, never another route module; a missing machine, run or
workload is a 404 here, which the JSON routes return as is and the pages turn into their own not-found page.
A list comes back with whether a next page exists (see pagination.Page).
"""

from __future__ import annotations

from fastapi import HTTPException

from batchmark.server import queries
from batchmark.server.pagination import Page
from batchmark.server.queries import Filters
from batchmark.server.schemas import (ComparedPair, MachineComparison, Leaderboard, LeaderboardEntry, MachineDetail,
                                      MachineSummary, RunDetail, Size, WorkloadSummary)
from batchmark.store import History, convert
from batchmark.workloads.registry import get_workload, workload_names


def public(machine: queries.MachineListing) -> MachineSummary:
    return MachineSummary.model_validate(machine.model_dump(exclude={"id"}))


def find(history: History, key: str) -> tuple[queries.MachineListing, dict]:
    found = queries.find_machine(history, key)
    if found is None:
        raise HTTPException(404, f"no machine {key!r} on this server (or the prefix names several)")
    return found


def ranked(entries: list[queries.Entry], first: int = 1) -> list[LeaderboardEntry]:
    return [LeaderboardEntry.model_validate({**entry.model_dump(exclude={"result_id"}), "rank": rank})
            for rank, entry in enumerate(entries, first)]


def machines(history: History, page: Page) -> tuple[list[queries.MachineListing], bool]:
    return page.split(queries.machines(history, page=page))


def machine_detail(history: History, key: str, filters: Filters, runs: Page = Page()) -> tuple[MachineDetail, bool]:
    """The machine with its best rows and a page of its runs, and whether more runs follow."""
    machine, fingerprint = find(history, key)
    best = sorted(queries.best_per_machine(history, filters, machine_ids=[machine.id]),
                  key=lambda entry: (queries.workload_order(entry.workload), -entry.batch_size, -entry.image_size))
    listed, more = runs.split(queries.submitted_runs(history, machine_id=machine.id, limit=runs.limit,
                                                     offset=runs.offset))
    return MachineDetail(machine=public(machine), fingerprint=fingerprint, runs=listed, best=ranked(best)), more


def leaderboard(history: History, workload: str, filters: Filters, batch_size: int | None = None,
                image_size: int | None = None, page: Page = Page()) -> tuple[Leaderboard, list[queries.Entry], bool]:
    """A page of the board (ranks count from the first page), its entries with the results they came from
    (what the page's chart loads), and whether a next page exists."""
    if workload not in workload_names():
        raise HTTPException(404, f"no workload {workload!r}; the leaderboards are {', '.join(workload_names())}")
    spec = get_workload(workload)
    size = (batch_size or spec.batch_size, image_size or spec.image_size)
    entries, more = page.split(queries.best_per_machine(history, filters, workload=workload, size=size, page=page))
    board = Leaderboard(workload=workload, batch_size=size[0], image_size=size[1],
                        include_unverified=filters.include_unverified,
                        sizes=[Size(batch_size=batch, image_size=image, rows=rows)
                               for batch, image, rows in queries.sizes(history, workload, filters)],
                        entries=ranked(entries, page.offset + 1))
    return board, entries, more


def workload_summaries(history: History, filters: Filters) -> list[WorkloadSummary]:
    counts = queries.machines_per_workload(history, filters)
    return [WorkloadSummary(workload=name, description=get_workload(name).description,
                            batch_size=get_workload(name).batch_size, image_size=get_workload(name).image_size,
                            machines=counts.get(name, 0)) for name in workload_names()]


def comparison(history: History, a: str, b: str, filters: Filters) -> tuple[MachineComparison, list[queries.Entry]]:
    """Machine b against machine a, and both sides' entries (what the page's chart loads)."""
    machine_a, _ = find(history, a)
    machine_b, _ = find(history, b)
    pairs = queries.compare_machines(history, machine_a, machine_b, filters)
    compared = MachineComparison(a=public(machine_a), b=public(machine_b),
                          pairs=[ComparedPair(workload=entry_a.workload, batch_size=entry_a.batch_size,
                                              image_size=entry_a.image_size, a=ranked([entry_a])[0],
                                              b=ranked([entry_b])[0], ratio=entry_b.median / entry_a.median)
                                 for entry_a, entry_b in pairs])
    return compared, [entry for pair in pairs for entry in pair]


def run_detail(history: History, run_id: str, rows: Page | None = None) -> tuple[RunDetail, queries.SubmittedRun]:
    """The run (whole, or only the rows of `rows`) and what was loaded for it."""
    found = queries.run_with_submission(history, run_id, rows)
    if found is None:
        raise HTTPException(404, f"no submitted run {run_id!r} on this server")
    detail = RunDetail(run=found.results, machine=queries.machine_key(found.machine),
                       submitted_at=convert.format_time(found.submission.submitted_at),
                       verified=found.submission.verified, reasons=found.submission.reasons)
    return detail, found
