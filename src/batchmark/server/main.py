"""The app, assembled: settings, database, middleware, one router per resource, and the OpenAPI spec."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError

from batchmark.version import __version__
from batchmark.results import ResultsFile
from batchmark.server.bodylimit import BodyLimitMiddleware
from batchmark.server.head_requests import HeadAsGet
from batchmark.server.page_cache import PageCache
from batchmark.server.ratelimit import RateLimiter
from batchmark.server.routes import api_docs, compare, leaderboard, machines, pages, runs, submissions
from batchmark.server.security_headers import SecurityHeaders, inline_script_hashes, security_headers
from batchmark.server.settings import ServerSettings
from batchmark.store import StoreError, open_history


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Opens (creating or upgrading) the database first: a bad one is a StoreError before anything serves."""
    settings = settings or ServerSettings()
    history = open_history(settings.database)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        history.close()

    app = FastAPI(title="batchmark leaderboard", version=__version__,
                  description="Seconds per training batch, from many machines: read by anyone, written with a token.",
                  docs_url=None, redoc_url=None, lifespan=lifespan)  # /docs is ours: see routes/api_docs.py
    app.state.settings = settings
    app.state.history = history
    app.state.rate_limiter = RateLimiter(history, settings.submissions_per_window, settings.rate_window_seconds)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes, body_seconds=settings.body_seconds,
                       history=history)
    app.add_middleware(PageCache, history=history, max_bytes=settings.page_cache_bytes)  # cache hits skip the rest
    app.add_middleware(HeadAsGet)  # outside the cache, which then answers a HEAD as it would the GET
    app.add_middleware(SecurityHeaders, headers=security_headers(our_inline_script_hashes()))  # on cached answers too
    for module in (submissions, runs, machines, leaderboard, compare, pages, api_docs):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(packages=[("batchmark.server", "static")]), name="static")
    app.add_exception_handler(StoreError, database_unavailable)
    app.add_exception_handler(SQLAlchemyError, database_unavailable)
    app.add_exception_handler(pages.PageNotFound, pages.not_found)
    app.openapi = lambda: openapi_with_results_schema(app)
    return app


def our_inline_script_hashes() -> list[str]:
    """The only inline scripts the policy lets run: the pages' chart bootstrap and the docs page's start-up."""
    with_charts = pages.environment().get_template("base.html.j2").render(page="", charts=True)
    return [*inline_script_hashes(with_charts), *inline_script_hashes(api_docs.docs_html())]


async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"the database is unavailable: {str(error).splitlines()[0] if str(error) else error}"},
                        status_code=503)


def openapi_with_results_schema(app: FastAPI) -> dict:
    """FastAPI's spec, plus the results schema that POST /api/v1/runs reads (it parses the body itself, to
    answer malformed input with one clear line rather than a list of pydantic errors)."""
    if app.openapi_schema is None:
        spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        results = ResultsFile.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        schemas.update(results.pop("$defs", {}))
        results["required"] = sorted({*results.get("required", []), "schema_version"})  # the parser needs it
        schemas["ResultsFile"] = results
        app.openapi_schema = spec
    return app.openapi_schema
