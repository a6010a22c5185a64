"""The interactive API docs (/docs), with Swagger UI served from this package rather than a CDN: a pinned
version, nothing loaded off-site. swagger-ui-dist 5.35.0 from npm, its bundle, CSS and licences only, under
static/vendor/swagger-ui/. ReDoc is not offered: one docs page is enough, and its bundle needs a looser policy
(web workers from blob: URLs)."""

from __future__ import annotations

import functools

from fastapi import APIRouter
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)
VENDOR = "/static/vendor/swagger-ui"


@functools.cache
def docs_html() -> str:
    """The same page each time, so its start-up script has one hash for the Content-Security-Policy."""
    page = get_swagger_ui_html(openapi_url="/openapi.json", title="batchmark leaderboard · API",
                               swagger_js_url=f"{VENDOR}/swagger-ui-bundle.js",
                               swagger_css_url=f"{VENDOR}/swagger-ui.css", swagger_favicon_url="/static/favicon.svg",
                               # the validator badge would send our spec's URL to validator.swagger.io
                               swagger_ui_parameters={"validatorUrl": None})
    return page.body.decode()


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    return HTMLResponse(docs_html())
