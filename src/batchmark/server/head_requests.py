"""HEAD wherever GET works: uptime monitors ask with HEAD and read a 405 as "down".

Pure ASGI middleware: the app (the page cache included, so a HEAD may be answered from it) sees a GET, and
the client gets that answer's status and headers, Content-Length included, with an empty body, as HTTP says.
"""

from __future__ import annotations


class HeadAsGet:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
