"""Headers that tell a browser what our pages may load and who may frame them, on every answer.

Pure ASGI middleware, outside the page cache, so an answer served from the cache carries them too. The policy
allows scripts from this server only, plus the inline scripts we wrote ourselves, each named by its SHA-256
(the chart bootstrap in base.html.j2, Swagger UI's start-up call): an injected script matches no hash and
does not run. Styles may be inline: the templates use style attributes and Plotly and Swagger UI write styles
at run time, and a style cannot run code. Images may be data: URIs (Swagger UI's icons, Plotly's modebar).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from html.parser import HTMLParser


class InlineScripts(HTMLParser):
    """The text of each <script> without src that a browser would run (JSON data blocks do not run)."""

    EXECUTABLE = {None, "", "text/javascript", "module"}

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.current: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "script" and "src" not in found and found.get("type") in self.EXECUTABLE:
            self.current = []

    def handle_data(self, data):
        if self.current is not None:
            self.current.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self.current is not None:
            self.scripts.append("".join(self.current))
            self.current = None


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-…') for the inline scripts of a page."""
    parser = InlineScripts()
    parser.feed(html)
    parser.close()
    return [f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
            for script in parser.scripts]


def content_security_policy(script_hashes: Iterable[str]) -> str:
    return "; ".join([
        "default-src 'self'",
        f"script-src 'self' {' '.join(sorted(set(script_hashes)))}".rstrip(),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def security_headers(script_hashes: Iterable[str]) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(script_hashes),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
        "Referrer-Policy": "same-origin",  # a run's URL is nobody else's business
    }


class SecurityHeaders:
    def __init__(self, app, headers: dict[str, str]):
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in self.headers if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, with_headers)
