"""A cap on request bodies, as pure ASGI middleware: 413 before the app (and so any JSON parser) sees a byte.

A declared Content-Length over the cap is refused at once, unread. A body without one (chunked) is read
into memory only up to the cap and refused as soon as it passes it; one that fits is handed on unchanged.
"""

from __future__ import annotations

import json


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

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
        try:
            body = await self.read_body(receive)
        except BodyTooLarge:
            await respond(send, 413, self.refusal("a chunked body past the limit"))
            return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the client to disconnect, as the server would

        await self.app(scope, replay, send)

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


async def respond(send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
