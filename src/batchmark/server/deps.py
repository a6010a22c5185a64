"""What routes ask for: the history (database) of the app, the query's filters, and a valid upload token."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from fastapi import Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from batchmark.frameworks import FRAMEWORKS
from batchmark.plans import DEVICES, PRECISIONS
from batchmark.server.queries import Filters
from batchmark.server.ratelimit import retry_after
from batchmark.server.settings import ServerSettings
from batchmark.store import History
from batchmark.store.tokens import TokenInfo, authenticate


bearer = HTTPBearer(auto_error=False, description="An upload token, as `batchmark token create` prints it.")


def get_history(request: Request) -> History:
    return request.app.state.history


def get_settings(request: Request) -> ServerSettings:
    return request.app.state.settings


HistoryDep = Annotated[History, Depends(get_history)]
# A leaderboard's batch or image size; the JSON route and the page read the same two.
SizeQuery = Annotated[Optional[int], Query(ge=1, le=2**31 - 1, description="Default: the workload's standard size.")]


def get_filters(
    request: Request,
    framework: Annotated[Optional[Literal[tuple(FRAMEWORKS)]], Query(description="Only this framework.")] = None,
    device: Annotated[Optional[Literal[DEVICES]], Query(description="Only this device kind.")] = None,
    precision: Annotated[Optional[Literal[PRECISIONS]], Query(description="Only this precision.")] = None,
    include_unverified: Annotated[Optional[bool], Query(
        description="Also runs that failed the plausibility check (default: the server's setting, off).")] = None,
) -> Filters:
    if include_unverified is None:
        include_unverified = get_settings(request).include_unverified
    return Filters(framework, device, precision, include_unverified)


FiltersDep = Annotated[Filters, Depends(get_filters)]


# Where the body-limit middleware leaves the token it checked before reading the body, for the route.
CHECKED_TOKEN = "upload_token"


def check_token(history: History, credentials: HTTPAuthorizationCredentials | None) -> TokenInfo:
    """The live token these credentials carry, or the 401 that says what is wrong with them."""
    if credentials is None:
        raise HTTPException(401, "an upload token is required: send 'Authorization: Bearer TOKEN' (the server's "
                                 "admin makes one with `batchmark token create NAME`)",
                            headers={"WWW-Authenticate": "Bearer"})
    token = authenticate(history, credentials.credentials)
    if token is None:
        raise HTTPException(401, "the upload token is not valid or was revoked", headers={"WWW-Authenticate": "Bearer"})
    return token


def require_token(request: Request, history: HistoryDep,
                  credentials: Annotated[Optional[HTTPAuthorizationCredentials], Depends(bearer)]) -> TokenInfo:
    """The request's token: the one the body-limit middleware checked for this request (a write is checked there,
    before its body is read), else checked here. Looked up once a request."""
    checked = getattr(request.state, CHECKED_TOKEN, None)
    return checked if checked is not None else check_token(history, credentials)


def within_rate_limit(request: Request, token: Annotated[TokenInfo, Depends(require_token)]) -> TokenInfo:
    settings = get_settings(request)
    wait = request.app.state.rate_limiter.acquire(token.id)
    if wait is not None:
        raise HTTPException(429, f"too many submissions: this token may submit {settings.submissions_per_window} "
                                 f"times per {settings.rate_window_seconds:g} s; retry in {retry_after(wait)} s",
                            headers={"Retry-After": retry_after(wait)})
    return token
