"""Rendered pages and API answers, kept in memory and served again until the data's version moves.

Pure ASGI middleware: a cached answer is sent before FastAPI parses a parameter or opens a session, so a
repeated view costs one tiny read (the version, see data_version.py) and a copy of bytes. The key is the
path and the query string, and the entries are those of one version: the first request that sees a newer
version empties the cache. Only GETs of the data's pages and JSON, answered 200, are kept: an error or a
refusal is rendered again each time. Pages link relatively and vary by nothing but path and query, so one
copy serves every client. Each worker process keeps its own cache; the version they share keeps them right.

A page missing from the cache is rendered once however many ask for it at the same moment: the others wait for
that render and are sent its bytes. Every submission empties the cache, and before this 32 readers arriving
together each rendered the same page, so that a moment after each submission every reader waited for 32
renders on 2 cores.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from starlette.concurrency import run_in_threadpool

from batchmark.server import data_version
from batchmark.store import History
from batchmark.store.database import reader

DATA_PATHS = ("/leaderboard/", "/machines", "/compare", "/runs/", "/api/v1/")  # and "/" itself


def cacheable(scope) -> bool:
    path = scope["path"]
    return scope["method"] == "GET" and (path == "/" or path.startswith(DATA_PATHS))


class PageCache:
    def __init__(self, app, history: History, max_bytes: int):
        self.app = app
        self.reads = reader(history.engine)
        self.max_bytes = max_bytes
        self.version: int | None = None  # of the pages kept
        self.pages: OrderedDict[tuple[str, bytes], tuple[list, bytes]] = OrderedDict()  # least recent first
        self.size = 0
        self.rendering: dict[tuple[int, str, bytes], asyncio.Future] = {}  # renders in flight, by version and key

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.max_bytes or not cacheable(scope):
            await self.app(scope, receive, send)
            return
        version = await run_in_threadpool(data_version.current, self.reads)
        if version != self.version and (self.version is None or version > self.version):
            self.version, self.pages, self.size = version, OrderedDict(), 0
        key = (scope["path"], scope["query_string"])
        kept = self.pages.get(key) if version == self.version else None
        in_flight = (version, *key)
        if kept is None and in_flight in self.rendering:
            await asyncio.shield(self.rendering[in_flight])  # another request is rendering this page: its bytes
            kept = self.pages.get(key) if version == self.version else None
            if kept is None:  # that answer was not kept (an error, too big, or a newer version came meanwhile)
                await self.render(scope, receive, send, key, version)
                return
        if kept is not None:
            self.pages.move_to_end(key)
            headers, body = kept
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        if version != self.version:
            await self.render(scope, receive, send, key, version)  # a reader that saw an older version
            return
        self.rendering[in_flight] = asyncio.get_running_loop().create_future()
        try:
            await self.render(scope, receive, send, key, version)
        finally:
            self.rendering.pop(in_flight).set_result(None)

    async def render(self, scope, receive, send, key: tuple[str, bytes], version: int) -> None:
        """The app's answer, sent as it comes, and kept when it is a 200 of the version the cache holds."""
        start, parts = {}, []

        async def capture(message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, capture)
        if start.get("status") == 200 and version == self.version:
            self.keep(key, list(start.get("headers", [])), b"".join(parts))

    def keep(self, key: tuple[str, bytes], headers: list, body: bytes) -> None:
        if len(body) > self.max_bytes // 4:
            return  # one huge answer (a run of thousands of rows) must not push out every other page
        if key in self.pages:
            self.size -= len(self.pages.pop(key)[1])
        self.pages[key] = (headers, body)
        self.size += len(body)
        while self.size > self.max_bytes:
            self.size -= len(self.pages.popitem(last=False)[1][1])
