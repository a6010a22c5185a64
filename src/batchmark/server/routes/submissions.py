"""POST /api/v1/runs: upload one run, with a token. Validated, checked for plausibility, stored once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from batchmark.server import plausibility, queries
from batchmark.server.deps import HistoryDep, within_rate_limit
from batchmark.server.schemas import SubmitResponse
from batchmark.server.validation import SOURCE, SubmissionRefused, parse_submission
from batchmark.store import History
from batchmark.store.tokens import TokenInfo

router = APIRouter(prefix="/api/v1", tags=["submissions"])

RESULTS_BODY = {"requestBody": {"required": True, "description": "A results file, as `batchmark export` writes it.",
                                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ResultsFile"}}}}}


def store(history: History, body: bytes, token: TokenInfo) -> tuple[queries.SubmitOutcome, str]:
    try:
        results, content_sha256 = parse_submission(body)
    except SubmissionRefused as error:
        raise HTTPException(422, str(error)) from None
    problems = plausibility.refusals(results)
    if problems:
        raise HTTPException(422, f"{SOURCE}: implausible results: {problems[0]}"
                                 + (f" ({len(problems)} problems in all)" if len(problems) > 1 else ""))
    outcome = queries.submit(history, results, content_sha256, token.id, plausibility.doubts(results))
    if outcome.conflict:
        raise HTTPException(409, outcome.conflict)
    return outcome, results.run_id


@router.post("/runs", status_code=201, response_model=SubmitResponse, openapi_extra=RESULTS_BODY, responses={
    200: {"model": SubmitResponse, "description": "This run was submitted before: nothing new was stored."},
    401: {"description": "No upload token, or one that is not valid."},
    409: {"description": "A run of this id was stored with other content."},
    413: {"description": "The body is larger than the server accepts."},
    422: {"description": "Not a results file this server reads, or implausible data."},
    429: {"description": "Too many submissions with this token; see Retry-After."}})
async def submit_run(request: Request, response: Response, history: HistoryDep,
                     token: Annotated[TokenInfo, Depends(within_rate_limit)]) -> SubmitResponse:
    """Upload one run: its fingerprint, rows and raw samples. The same run sent again is stored once."""
    body = await request.body()
    outcome, run_id = await run_in_threadpool(store, history, body, token)
    if not outcome.stored:
        response.status_code = 200
    return SubmitResponse(stored=outcome.stored, run_id=run_id, verified=outcome.verified, reasons=outcome.reasons,
                          url=str(request.url_for("run_page", run_id=run_id)))
