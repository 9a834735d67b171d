"""Query strings of the dashboard's list pages: the filters read from them, the pager links
that keep them, and the way back to a page after a lever, with a notice."""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request

from storage.listing import Page
from web.admin.auth import safe_next

#: Query parameters a page reads for itself; links carry every other one along.
CURSOR_PARAMS = ("before", "after")
NOTICE_PARAM = "done"
#: The longest e-mail search: no address is longer (RFC 5321), and neither is the column.
MAX_SEARCH_CHARS = 254


def choice(request: Request, name: str, allowed: Collection[str]) -> str | None:
    """The parameter when it is one of `allowed`; anything else means no filter."""
    value = request.query_params.get(name)
    return value if value in allowed else None


def search_text(request: Request, name: str = "q") -> str | None:
    return request.query_params.get(name, "").strip()[:MAX_SEARCH_CHARS] or None


def _with_query(path: str, params: list[tuple[str, str]]) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def _kept(request: Request, dropped: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in request.query_params.multi_items() if k not in dropped]


def here(request: Request) -> str:
    """This page with its filters and cursor: where a lever posted from it returns."""
    return _with_query(request.url.path, _kept(request, (NOTICE_PARAM,)))


def pager(request: Request, page: Page) -> dict[str, str | None]:
    """Links to the newest page, and to the newer and older pages, with the same filters."""
    filters = _kept(request, (*CURSOR_PARAMS, NOTICE_PARAM))
    paged = any(name in request.query_params for name in CURSOR_PARAMS)

    def link(name: str, cursor: str | None) -> str | None:
        return _with_query(request.url.path, [*filters, (name, cursor)]) if cursor else None

    return {
        "newest": _with_query(request.url.path, filters) if paged else None,
        "newer": link("after", page.newer),
        "older": link("before", page.older),
    }


def back_with_notice(target: str | None, notice: str) -> str:
    """`target` (a dashboard path, else the overview) with `notice` as its one notice."""
    parts = urlsplit(safe_next(target))
    params = [(k, v) for k, v in parse_qsl(parts.query) if k != NOTICE_PARAM]
    return _with_query(parts.path, [*params, (NOTICE_PARAM, notice)])
