"""Every page, the API docs included, tells the browser what it may load (its own scripts and ours only) and
that nobody may frame it; none loads anything off-site; and HEAD answers wherever GET does, cached or not."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from batchmark.server.security_headers import inline_script_hashes
from batchmark.store import open_history
from batchmark.store.tokens import create_token
from tests import sample_runs
from tests.server.conftest import bearer, make_client
from tests.server.helpers import body, fast_run

SECURITY = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One SQLite leaderboard with two machines' runs: the headers do not depend on the database."""
    database = str(tmp_path_factory.mktemp("headers") / "leaderboard.sqlite")
    history = open_history(database)
    _, token = create_token(history, "headers")
    history.close()
    with make_client(database) as client:
        for run in (sample_runs.standard_run(), fast_run()):
            assert client.post("/api/v1/runs", content=body(run), headers=bearer(token)).status_code == 201
        runs = client.get("/api/v1/runs").json()
        a, b = (machine["machine"] for machine in client.get("/api/v1/machines").json())
        pages = {"/": 200, "/leaderboard/mobilenetv3": 200, "/machines": 200, f"/machines/{a}": 200,
                 "/compare": 200, f"/compare?a={a}&b={b}": 200, f"/runs/{runs[0]['run_id']}": 200, "/docs": 200,
                 "/runs/no-such-run": 404}
        yield client, pages


class Loads(HTMLParser):
    """What a page makes the browser fetch by itself: scripts, stylesheets, icons, images, frames."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag in ("script", "img", "iframe") and found.get("src"):
            self.urls.append(found["src"])
        if tag == "link" and found.get("href"):
            self.urls.append(found["href"])


def loads(html: str) -> list[str]:
    parser = Loads()
    parser.feed(html)
    return parser.urls


def test_every_page_carries_the_security_headers_and_allows_its_own_scripts(served):
    client, pages = served
    for path, status in pages.items():
        for _ in range(2):  # rendered, then from the page cache
            answer = client.get(path)
            assert answer.status_code == status and answer.headers["content-type"].startswith("text/html"), path
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "same-origin"
            directives = answer.headers["content-security-policy"].split(";")
            policy = dict(directive.strip().split(" ", 1) for directive in directives)
            assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
            assert "unsafe-inline" not in policy["script-src"] and "unsafe-eval" not in policy["script-src"]
            assert set(inline_script_hashes(answer.text)) <= set(policy["script-src"].split()), path


def test_no_page_loads_a_script_or_stylesheet_from_another_site(served):
    client, pages = served
    for path in pages:
        urls = loads(client.get(path).text)
        assert urls, path  # the parser found the page's own stylesheet at least
        assert [url for url in urls if url.startswith(("http://", "https://", "//"))] == [], path
    for url in loads(client.get("/docs").text):
        if not url.startswith("data:"):
            assert client.get(url).status_code == 200, url  # the vendored Swagger UI is served
    assert client.get("/redoc").status_code == 404  # not offered: see routes/api_docs.py


def test_head_answers_wherever_get_does_with_the_same_headers_and_no_body(served):
    client, pages = served
    others = ["/static/style.css", "/static/plotly.js", "/openapi.json", "/api/v1/runs", "/api/v1/machines"]
    for path in [*pages, *others]:
        for _ in range(2):  # rendered, then from the page cache
            head, get = client.head(path), client.get(path)
            assert head.status_code == get.status_code and head.content == b"", path
            assert int(head.headers["content-length"]) == len(get.content), path
            for name in ("content-type", *SECURITY):
                assert head.headers[name] == get.headers[name], (path, name)
