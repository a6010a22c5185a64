"""Rendered pages and API answers, kept in memory and served again until the data's version moves.

Pure ASGI middleware: a cached answer is sent before FastAPI parses a parameter or opens a session, so a
repeated view costs one tiny read (the version, see data_version.py) and a copy of bytes. The key is the
path and the query string, and the entries are those of one version: the first request that sees a newer
version empties the cache. Only GETs of the data's pages and JSON, answered 200, are kept: an error or a
refusal is rendered again each time. Pages link relatively and vary by nothing but path and query, so one
copy serves every client. Each worker process keeps its own cache; the version they share keeps them right.
"""

from __future__ import annotations

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

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not self.max_bytes or not cacheable(scope):
            await self.app(scope, receive, send)
            return
        version = await run_in_threadpool(data_version.current, self.reads)
        if version != self.version and (self.version is None or version > self.version):
            self.version, self.pages, self.size = version, OrderedDict(), 0
        key = (scope["path"], scope["query_string"])
        kept = self.pages.get(key) if version == self.version else None
        if kept is not None:
            self.pages.move_to_end(key)
            headers, body = kept
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
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
