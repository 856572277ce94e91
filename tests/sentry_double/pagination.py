"""Cursor pagination as Sentry's OffsetPaginator does it.

A cursor is ``"<value>:<offset>:<is_prev>"`` (e.g. ``0:100:0``). Each list response carries a
``Link`` header with a ``previous`` and a ``next`` entry, each with ``results="true|false"`` and
``cursor="..."``; the URL is absolute and built from ``system.url-prefix`` (Sentry's absolute_uri),
not from the address the client used.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

MAX_PER_PAGE = 100


class PaginationError(ValueError):
    """Raised for a bad cursor or per_page (answered with 400)."""


def _parse_cursor(raw: str) -> tuple[int, bool]:
    parts = raw.split(":")
    if len(parts) != 3:
        raise PaginationError("Invalid cursor parameter.")
    try:
        offset = int(parts[1])
        is_prev = bool(int(parts[2]))
        int(float(parts[0]))
    except ValueError as exc:
        raise PaginationError("Invalid cursor parameter.") from exc
    if offset < 0:
        raise PaginationError("Invalid cursor parameter.")
    return offset, is_prev


def page_length(query: dict[str, list[str]], page_size: int) -> int:
    """``per_page``, honoured up to 100 like Sentry but never above the double's page size (the default)."""
    if "per_page" not in query:
        return page_size
    try:
        requested = int(query["per_page"][-1])
    except ValueError as exc:
        raise PaginationError("Invalid per_page parameter.") from exc
    if requested > MAX_PER_PAGE:
        raise PaginationError(f"Invalid per_page value. Cannot exceed {MAX_PER_PAGE}.")
    if requested < 1:
        raise PaginationError("Invalid per_page parameter.")
    return min(requested, page_size)


def link_header(url_prefix: str, path: str, query: dict[str, list[str]], *links: tuple[str, str, bool]) -> str:
    """The ``Link`` header: one entry per (rel, cursor, results) on the absolute URL of `path`, its other
    query parameters kept."""
    kept = [(k, v) for k, values in query.items() if k != "cursor" for v in values]
    base = url_prefix.rstrip("/") + quote(path)
    base = f"{base}?{urlencode(kept)}" if kept else f"{base}?"
    return ", ".join(
        f'<{base}&cursor={cursor}>; rel="{rel}"; results="{"true" if results else "false"}"; cursor="{cursor}"'
        for rel, cursor, results in links
    )


def paginate(
    rows: list[Any],
    query: dict[str, list[str]],
    path: str,
    url_prefix: str,
    page_size: int,
) -> tuple[list[Any], str]:
    """Return (page, Link header value).

    ``per_page`` is honoured up to 100 like Sentry, but never above the double's page size so
    that clients always exercise pagination; the default is the double's page size.
    """
    per_page = page_length(query, page_size)
    offset = 0
    if query.get("cursor"):
        offset, _is_prev = _parse_cursor(query["cursor"][-1])
    page = rows[offset : offset + per_page]
    has_next = offset + per_page < len(rows)
    prev_offset = max(0, offset - per_page)
    header = link_header(
        url_prefix,
        path,
        query,
        ("previous", f"0:{prev_offset}:1", offset > 0),
        ("next", f"0:{offset + per_page}:0", has_next),
    )
    return page, header
