"""`batchmark.submit`: upload one run from the user's own history to a leaderboard server, only when asked."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from batchmark.errors import SubmitRefused, UsageError

SERVER_EXTRA = "pip install -c constraints.txt -e '.[server]'"


@dataclass
class Submitted:
    run_id: str
    rows: int
    stored: bool  # False: the server had this run already, nothing new was stored
    verified: bool  # False: kept off the leaderboard, for `reasons`
    url: str
    reasons: list[str] = field(default_factory=list)


def submit(run: str, server: str | None, token: str | None, timeout: float = 60,
           database: str | None = None) -> Submitted:
    """Send the run's fingerprint, rows and raw samples. Raises SubmitRefused when the server refuses it or
    cannot be reached, UsageError for a missing server or token."""
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

    results = load_run(run, database)
    endpoint = server.rstrip("/") + "/api/v1/runs"
    try:
        # json.dumps, not model_dump_json: a diverged loss stays NaN (pydantic would write null, not a number).
        response = httpx.post(endpoint, content=json.dumps(results.model_dump()).encode(),
                              timeout=timeout,
                              headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    except (httpx.HTTPError, ValueError) as error:
        raise SubmitRefused(f"cannot reach {server}: {error or type(error).__name__}") from None
    answer = _json_object(response)
    if response.status_code >= 400:
        detail = answer.get("detail") if isinstance(answer.get("detail"), str) else response.text[:300]
        raise SubmitRefused(f"{server} refused run {results.run_id}: HTTP {response.status_code}: "
                            f"{' '.join(str(detail).split())}")
    return Submitted(run_id=results.run_id, rows=len(results.rows), stored=bool(answer.get("stored")),
                     verified=bool(answer.get("verified")), url=str(answer.get("url", server)),
                     reasons=[str(reason) for reason in answer.get("reasons") or []])


def _json_object(response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}
