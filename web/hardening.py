"""What every response and every number in a URL gets: security headers, no caching of pages that can
carry case or reporter data, and ids and page numbers bounded so a wild value is a 404, not a 500."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

# Ids are 32-bit in the database: a larger number in a URL cannot name anything (and PostgreSQL would
# refuse to compare it).
MAX_ID = 2**31 - 1
# A queue or search page reads its first page × size rows, so paging far beyond any real list is refused.
MAX_PAGE = 1000

# No inline script anywhere (templates load static files only). Inline styles stay allowed because
# bpmn-js writes style attributes into the diagram's markup; with img-src/connect-src limited to this
# site, injected CSS has no way to send anything elsewhere.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "img-src 'self' data:",
    "font-src 'self' data:", "connect-src 'self'", "object-src 'none'", "base-uri 'none'",
    "form-action 'self'", "frame-ancestors 'none'",
))
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Files that are the same for everyone and carry no case data may be cached.
CACHEABLE_ENDPOINTS = {"static", "assets.file"}


class BoundedInt(IntegerConverter):
    """`<int:…>` in every route: digits only (no sign), at most MAX_ID, else the route does not match."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,  # noqa: A002
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def page_number(values: Mapping[str, str] | None = None) -> int:
    """The 1-based page of the query string (or of `values`); a value that is not a page number is a 404."""
    value = (request.args if values is None else values).get("page", "1")
    if not (value.isascii() and value.isdigit() and len(value) <= 4) or not 1 <= int(value) <= MAX_PAGE:
        abort(404)
    return int(value)


def ids(values: list[str]) -> list[int]:
    """The values that can be ids (ASCII digits, within MAX_ID); others name nothing and are dropped."""
    return [int(value) for value in values if value.isascii() and value.isdigit() and len(value) <= 10
            and int(value) <= MAX_ID]


def register(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt  # before any route is added

    @app.after_request
    def secure_headers(response):
        for header, value in HEADERS.items():
            response.headers.setdefault(header, value)
        if request.endpoint not in CACHEABLE_ENDPOINTS:
            response.headers["Cache-Control"] = "no-store"
        return response
