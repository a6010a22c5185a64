"""A cap on request bodies, as pure ASGI middleware: nothing is read for a request that will be refused.

In order, before the app (and so any JSON parser) sees a byte:
1. a declared Content-Length over the cap is refused at once (413), unread;
2. a request that writes (any method but GET, HEAD and OPTIONS) must carry a valid upload token, checked
   before its body is read (401): without one, a client cannot make the server hold megabytes for it;
3. the body is read within a deadline for the whole of it (408): a client that declares 1000 bytes and sends
   5 holds a connection for that long at most. A body without Content-Length (chunked) is read only up to
   the cap and refused as soon as it passes it (413). One that fits is handed on unchanged.
"""

from __future__ import annotations

import json

import anyio
from fastapi import HTTPException
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from batchmark.server.deps import CHECKED_TOKEN, bearer, check_token
from batchmark.store import History

READS = {"GET", "HEAD", "OPTIONS"}  # nothing else is served without a token


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app, max_bytes: int, body_seconds: float, history: History):
        self.app = app
        self.max_bytes = max_bytes
        self.body_seconds = body_seconds
        self.history = history

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await respond(send, 400, "Content-Length is not a number")
                return
            if length > self.max_bytes:
                await respond(send, 413, self.refusal(f"{length} bytes"))
                return
        if scope["method"] not in READS:
            refused = await self.token_refusal(scope)
            if refused is not None:
                await respond(send, refused.status_code, refused.detail, refused.headers)
                return
        try:
            with anyio.fail_after(self.body_seconds):
                body = await self.read_body(receive)
        except BodyTooLarge:
            await respond(send, 413, self.refusal("a chunked body past the limit"))
            return
        except TimeoutError:
            await respond(send, 408, f"the request body did not arrive within {self.body_seconds:g} s")
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the client to disconnect, as the server would

        await self.app(scope, replay, send)

    async def token_refusal(self, scope) -> HTTPException | None:
        """The route's own token check (same answers), made here before the body is read; the token found is
        left in the request's state, where the route's dependency takes it instead of looking it up again."""
        request = Request(scope)
        credentials = await bearer(request)
        try:
            token = await run_in_threadpool(check_token, self.history, credentials)
        except HTTPException as refusal:
            return refusal
        setattr(request.state, CHECKED_TOKEN, token)
        return None

    async def read_body(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def refusal(self, sent: str) -> str:
        return f"request body too large: {sent}; this server accepts at most {self.max_bytes} bytes"


async def respond(send, status: int, detail: str, headers: dict | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                            *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items())]})
    await send({"type": "http.response.body", "body": body})
