"""Pages of a long list: `?page=N&page_size=M` on every list the server shows, and the link to the next page.

A query asks for one row more than the page holds: that row's presence is how a page knows a next one exists,
without counting the whole table. The JSON API says where the next page is in a `Link: <...>; rel="next"`
header (RFC 8288, as GitHub's API does), so the response bodies keep their shape; the HTML pages show links.
Links are relative: a cached page must not name the host it was first asked for by.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Sequence, TypeVar

from fastapi import Depends, Query, Request, Response

DEFAULT_PAGE_SIZE = 50  # a screenful of machines or leaderboard lines
MAX_PAGE_SIZE = 200  # a page costs its rows; this bounds what one request can make the server load
MAX_PAGE = 10**6  # keeps the offset a 32-bit number for every database

Item = TypeVar("Item")


@dataclass(frozen=True)
class Page:
    number: int = 1  # from 1
    size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.number - 1) * self.size

    @property
    def limit(self) -> int:
        """What to ask the database for: one more than fits, to learn whether a next page exists."""
        return self.size + 1

    def split(self, rows: Sequence[Item]) -> tuple[list[Item], bool]:
        """The rows of this page from a query limited to `limit`, and whether there are more."""
        return list(rows[:self.size]), len(rows) > self.size


def get_page(page: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Which page, from 1.")] = 1,
             page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page.")] = DEFAULT_PAGE_SIZE,
             ) -> Page:
    return Page(page, page_size)


PageDep = Annotated[Page, Depends(get_page)]


def relative_url(request: Request, **changes) -> str:
    """This request's path and query, with `changes` to its query parameters."""
    url = request.url.include_query_params(**changes)
    return f"{url.path}?{url.query}" if url.query else url.path


@dataclass(frozen=True)
class PageLinks:
    """Where the previous and next pages are, as the HTML pages show them (None: there is none)."""

    number: int
    previous: str | None
    next: str | None


def page_links(request: Request, page: Page, has_next: bool, parameter: str = "page") -> PageLinks:
    return PageLinks(page.number,
                     relative_url(request, **{parameter: page.number - 1}) if page.number > 1 else None,
                     relative_url(request, **{parameter: page.number + 1}) if has_next else None)


def link_next(response: Response, url: str | None) -> None:
    if url is not None:
        response.headers["Link"] = f'<{url}>; rel="next"'
