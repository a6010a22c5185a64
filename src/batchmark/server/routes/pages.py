"""The HTML pages: the same data as the JSON API, rendered by Jinja2 with autoescaping, and charts drawn by
the HTML report's own figure code (batchmark.report.charts) with plotly.js served once from /static.
Every list is a page (?page=N&page_size=M) with links to its neighbours; a chart draws the page's rows."""

from __future__ import annotations

import functools
import json
from importlib import resources
from typing import Annotated, Optional

import jinja2
from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from batchmark import wording
from batchmark.frameworks import FRAMEWORKS
from batchmark.plans import DEVICES, PRECISIONS
from batchmark.report.charts import batch_text, build_figures, samples_per_second_text, seconds_figure
from batchmark.report.page import PLOT_CONFIG, figure_json, format_time, machine_facts, plan_switches, table_rows
from batchmark.report.tones import css_class
from batchmark.server import queries, views
from batchmark.server.deps import FiltersDep, HistoryDep, SizeQuery
from batchmark.server.pagination import MAX_PAGE_SIZE, Page, PageDep, page_links
from batchmark.workloads.registry import get_workload, workload_names

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
HTML = {"content": {"text/html": {}}, "description": "An HTML page."}


class PageNotFound(Exception):
    def __init__(self, detail: str):
        self.detail = detail


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("batchmark.server", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(frameworks=list(FRAMEWORKS), devices=DEVICES, precisions=PRECISIONS,
                       workloads=workload_names(), batch_text=batch_text, human_bytes=wording.human_bytes,
                       format_time=format_time, plan_switches=plan_switches, exact=exact, seconds=seconds,
                       rate=samples_per_second_text, percent=percent, flops=wording.flops_per_second,
                       against=wording.against, failed=wording.failed, plot_config=Markup(json.dumps(PLOT_CONFIG)))
    # Wording's tones as the report's CSS classes: style.css defines the same faster, slower, warn and muted.
    env.filters.update(css_class=css_class)
    return env


def render(template: str, status_code: int = 200, **context) -> HTMLResponse:
    return HTMLResponse(environment().get_template(template).render(**context), status_code=status_code)


def exact(value) -> str:
    return "" if value is None else repr(value)


def seconds(value: float) -> str:
    return f"{value:.4f}" if value < 100 else f"{value:.1f}"


def percent(value: float | None) -> str:
    return wording.NOTHING if value is None else f"{value:.1f}%"


async def not_found(request: Request, error: PageNotFound) -> HTMLResponse:
    return render("not_found.html.j2", status_code=404, detail=error.detail, page="")


def page_of(call, *args):
    """A JSON route's data for a page; its 404 becomes the page's own."""
    try:
        return call(*args)
    except HTTPException as error:
        if error.status_code == 404:
            raise PageNotFound(error.detail) from None
        raise


@router.get("/static/plotly.js", include_in_schema=False)
def plotly_bundle() -> Response:
    bundle = resources.files("batchmark.report").joinpath("assets/plotly-cartesian.min.js").read_bytes()
    return Response(bundle, media_type="text/javascript", headers={"Cache-Control": "public, max-age=86400"})


def filter_query(filters) -> dict:
    return {key: value for key, value in (("framework", filters.framework), ("device", filters.device),
                                          ("precision", filters.precision)) if value}


def recent_machines(history) -> list[queries.MachineListing]:
    """What a machine picker offers: the most recently submitted machines, as many as one page holds at most
    (any other is one URL away: /compare?a=KEY&b=KEY)."""
    return queries.machines(history, page=Page(1, MAX_PAGE_SIZE))[:MAX_PAGE_SIZE]


@router.get("/", responses={200: HTML})
def home(request: Request, history: HistoryDep, filters: FiltersDep, page: PageDep) -> HTMLResponse:
    """The leaderboard of the first workload, with every workload one click away."""
    return leaderboard_page(request, history, filters, workload_names()[0], page)


@router.get("/leaderboard/{workload}", responses={200: HTML, 404: HTML})
def leaderboard_page(request: Request, history: HistoryDep, filters: FiltersDep,
                     workload: Annotated[str, Path(max_length=100)], page: PageDep, batch_size: SizeQuery = None,
                     image_size: SizeQuery = None) -> HTMLResponse:
    board, entries, more = page_of(views.leaderboard, history, workload, filters, batch_size, image_size, page)
    figure = figure_json(seconds_figure(queries.charted_runs(history, entries), color_by_run=True)) if entries else None
    return render("leaderboard.html.j2", page="leaderboard", board=board, spec=get_workload(workload),
                  summaries=views.workload_summaries(history, filters), filters=filters, query=filter_query(filters),
                  figure=figure, pages=page_links(request, page, more))


@router.get("/machines", responses={200: HTML})
def machines_page(request: Request, history: HistoryDep, page: PageDep) -> HTMLResponse:
    listed, more = views.machines(history, page)
    return render("machines.html.j2", page="machines", machines=listed, pages=page_links(request, page, more))


@router.get("/machines/{machine}", responses={200: HTML, 404: HTML})
def machine_page(request: Request, history: HistoryDep, filters: FiltersDep,
                 machine: Annotated[str, Path(max_length=64)], page: PageDep) -> HTMLResponse:
    detail, more = page_of(views.machine_detail, history, machine, filters, page)
    return render("machine.html.j2", page="machines", detail=detail, facts=machine_facts(detail.fingerprint),
                  others=[other for other in recent_machines(history) if other.machine != detail.machine.machine],
                  pages=page_links(request, page, more))


@router.get("/compare", responses={200: HTML, 404: HTML})
def compare_page(history: HistoryDep, filters: FiltersDep,
                 a: Annotated[Optional[str], Query(max_length=64)] = None,
                 b: Annotated[Optional[str], Query(max_length=64)] = None) -> HTMLResponse:
    machines = recent_machines(history)
    compared, figure = None, None
    if a and b:
        compared, entries = page_of(views.comparison, history, a, b, filters)
        offered = {machine.machine for machine in machines}
        machines += [side for side in (compared.a, compared.b) if side.machine not in offered]
        if entries:
            figure = figure_json(seconds_figure(queries.charted_runs(history, entries, label_by_machine=True),
                                                color_by_run=True))
    defaults = [machine.machine for machine in machines[:2]] + ["", ""]
    return render("compare.html.j2", page="compare", machines=machines, compared=compared, figure=figure,
                  selected=(a or defaults[0], b or defaults[1]), filters=filters)


@router.get("/runs/{run_id}", responses={200: HTML, 404: HTML})
def run_page(request: Request, history: HistoryDep, run_id: Annotated[str, Path(max_length=64)],
             page: PageDep) -> HTMLResponse:
    """The run's rows a page at a time: a run of thousands of rows costs a view no more than one page."""
    detail, loaded = page_of(views.run_detail, history, run_id, page)
    figures = {chart_id: figure_json(figure) for chart_id, figure in build_figures([detail.run]).items()}
    return render("run.html.j2", page="runs", detail=detail, rows=table_rows([detail.run]), figures=figures,
                  facts=machine_facts(detail.run.machine), shown=(loaded.first, len(detail.run.rows), loaded.rows),
                  pages=page_links(request, page, loaded.first + len(detail.run.rows) < loaded.rows))
