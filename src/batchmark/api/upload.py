"""`batchmark.submit`: upload one run from the user's own history to a leaderboard server, only when asked.

Only the leaderboard's own answers count: 201 (stored now) or 200 (stored before), each with its JSON body. A
redirect is not followed (a POST sent on to another address may be stored there or nowhere: the user should
name the server they mean), and a page from a proxy or a login wall is not taken for a success.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from batchmark.errors import SubmitRefused, UsageError

SERVER_EXTRA = "pip install -c constraints.txt -e '.[server]'"
STORED = {201: True, 200: False}  # the leaderboard's successes: HTTP status -> whether this upload stored the run


@dataclass
class Submitted:
    run_id: str
    rows: int
    stored: bool  # False: the server had this run already, nothing new was stored
    verified: bool  # False: kept off the leaderboard, for `reasons`
    url: str
    reasons: list[str] = field(default_factory=list)


def submit(run: str, server: str | None, token: str | None, timeout: float = 60,
           database: str | None = None, allow_partial: bool = False) -> Submitted:
    """Send the run's fingerprint, rows and raw samples. Raises SubmitRefused when the server refuses it, cannot be
    reached or does not answer as a leaderboard does, UsageError for a missing server or token, or for a run that did
    not finish (interrupted, killed, or still running) unless `allow_partial`: then it is sent marked interrupted."""
    if not server:
        raise UsageError("--server URL (or BATCHMARK_SERVER) is required: the leaderboard to submit to")
    if not server.startswith(("http://", "https://")):
        raise UsageError(f"--server {server!r} must be an http:// or https:// URL")
    if not token:
        raise UsageError("--token (or BATCHMARK_TOKEN) is required: the server's admin gives you one")
    try:
        import httpx
    except ImportError:
        raise UsageError(f"submit needs httpx, part of the [server] extra: {SERVER_EXTRA}") from None
    from batchmark.api.runs import load_run  # the history and its schema: only once the options are sound
    from batchmark.store import open_history

    history = open_history(database)
    results = load_run(run, history=history)
    state = history.state(results.run_id)
    if state != "finished":
        if not allow_partial:
            raise UsageError(f"run {results.run_id} {UNFINISHED[state]}: the leaderboard would take its rows for a "
                             f"whole run. --allow-partial submits them, marked interrupted")
        results.interrupted = True  # the server shows what it is told: a run that did not finish says so
    endpoint = server.rstrip("/") + "/api/v1/runs"
    try:
        # json.dumps, not model_dump_json: a diverged loss stays NaN (pydantic would write null, not a number).
        # No redirects: httpx would re-send a POST to the new address as a GET, or not at all.
        response = httpx.post(endpoint, content=json.dumps(results.model_dump()).encode(), timeout=timeout,
                              follow_redirects=False,
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    except (httpx.HTTPError, ValueError) as error:
        raise SubmitRefused(f"cannot reach {server}: {error or type(error).__name__}") from None
    answer = _leaderboard_answer(response, server, results.run_id)
    return Submitted(run_id=results.run_id, rows=len(results.rows), stored=answer.stored, verified=answer.verified,
                     url=answer.url, reasons=list(answer.reasons))


UNFINISHED = {
    "interrupted": "was interrupted (Ctrl-C or SIGTERM): its later rows never ran",
    "running": "is still running: submit it when it has finished",
    "unfinished": "did not finish (its process ended without finishing: killed?)",
    "elsewhere": "has not finished (on another machine: still running there, or killed)",
}


def _leaderboard_answer(response, server: str, run_id: str):
    """The server's answer when it is a leaderboard's success; SubmitRefused, saying what came back, otherwise."""
    from batchmark.server.schemas import SubmitResponse  # the body the leaderboard sends, as it documents it

    status = response.status_code
    if response.is_redirect:
        where = response.headers.get("location", "nowhere it says")
        raise SubmitRefused(f"{server} redirected the upload (HTTP {status}) to {where}; nothing was sent there. "
                            f"If that is the leaderboard, submit to it with --server")
    if status >= 400:
        detail = _json_object(response).get("detail")
        text = detail if isinstance(detail, str) else response.text[:300]
        raise SubmitRefused(f"{server} refused run {run_id}: HTTP {status}: {' '.join(str(text).split())}")
    kind = response.headers.get("content-type", "no content type").split(";")[0]
    not_a_leaderboard = (f"{server} answered HTTP {status} ({kind}) with something other than a leaderboard's answer, "
                         f"so run {run_id} may not be stored: is --server the leaderboard itself, not a proxy or a "
                         f"login page?")
    if status not in STORED:
        raise SubmitRefused(not_a_leaderboard)
    try:
        answer = SubmitResponse.model_validate_json(response.content)
    except ValidationError:
        raise SubmitRefused(not_a_leaderboard) from None
    if answer.run_id != run_id or answer.stored != STORED[status]:
        raise SubmitRefused(f"{server} answered HTTP {status} for run {answer.run_id!r} (stored: "
                            f"{str(answer.stored).lower()}), which is not an answer to run {run_id}")
    return answer


def _json_object(response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
