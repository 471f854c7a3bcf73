"""Relay paging shared by every connection: opaque cursors, first/after and last/before.

A connection is a window on one ordered query, keyed on the primary key: ``oldest first``
(ascending ids) or ``newest first`` (descending). Cursors are the row's id, so they stay
valid while rows are added. Bad arguments are the client's mistake on that field: a Spanish
error with ``extensions.code`` and the camelCase argument in ``extensions.field``, reported
on the connection alone (``report_field_error``): the connection comes back empty and the
rest of the answer (the ``viewer`` above it) stands.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from tortoise.expressions import RawSQL
from tortoise.queryset import QuerySet

from puente.graphql.errors import UserFacingError, report_field_error
from puente.graphql.values import MAX_ID, PageInfo

__all__ = [
    "DEFAULT_PAGE",
    "MAX_PAGE",
    "Page",
    "PageRequest",
    "after_id",
    "checked_request",
    "empty_page",
    "cursor",
    "fetch_page",
    "page_info",
    "page_request",
    "page_size",
    "slice_page",
]

MAX_PAGE = 100
DEFAULT_PAGE = 20


class _HasId(Protocol):
    id: Any


Row = TypeVar("Row", bound=_HasId)
T = TypeVar("T")


def cursor(pk: int) -> str:
    """The cursor of the row with primary key ``pk``."""
    return base64.urlsafe_b64encode(f"cursor:{pk}".encode()).decode()


def _cursor_id(value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        prefix, _, pk = base64.urlsafe_b64decode(value.encode()).decode().partition(":")
        if prefix == "cursor" and 0 <= int(pk) <= MAX_ID:
            return int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise UserFacingError(
        "BAD_CURSOR",
        f"El cursor '{name}' no es uno que haya devuelto esta API; pide la página otra vez.",
        field=name,
    )


def after_id(after: str | None) -> int:
    """The primary key an ``after`` cursor names (0: from the start), or ``BAD_CURSOR``."""
    return _cursor_id(after, "after") or 0


def _size(value: int | None, name: str) -> int | None:
    if value is not None and not 1 <= value <= MAX_PAGE:
        raise UserFacingError(
            "BAD_PAGE_SIZE", f"'{name}' debe estar entre 1 y {MAX_PAGE}.", field=name
        )
    return value


def page_size(first: int | None) -> int:
    """``first`` within 1..MAX_PAGE (DEFAULT_PAGE when absent), or ``BAD_PAGE_SIZE``."""
    return _size(first, "first") or DEFAULT_PAGE


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Checked paging arguments: a page of ``size`` from the start (``from_end`` False) or
    the end of the window between the ``after`` and ``before`` ids."""

    size: int
    from_end: bool
    after: int | None
    before: int | None


def page_request(
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
) -> PageRequest:
    """The arguments of a connection field checked, or a ``UserFacingError`` naming one."""
    if first is not None and last is not None:
        raise UserFacingError(
            "BAD_PAGE_ARGUMENTS",
            "Usa 'first' o 'last', no los dos a la vez.",
            field="last",
        )
    _size(first, "first")
    _size(last, "last")
    return PageRequest(
        size=last or first or DEFAULT_PAGE,
        from_end=last is not None,
        after=_cursor_id(after, "after"),
        before=_cursor_id(before, "before"),
    )


def checked_request(
    info: Any, first: int | None, after: str | None, last: int | None, before: str | None
) -> PageRequest | None:
    """The arguments checked, or None once their refusal is reported on the field
    (``report_field_error``): the caller then answers an empty connection."""
    try:
        return page_request(first, after, last, before)
    except UserFacingError as refused:
        report_field_error(info, refused)
        return None


def empty_page() -> PageInfo:
    """The page info of an empty connection."""
    return PageInfo(has_next_page=False, end_cursor=None)


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    rows: list[T]
    has_next: bool
    has_previous: bool
    total: int | None = None  # rows of the whole query, when counted with the page


def page_info(rows: Sequence[_HasId], has_next: bool, has_previous: bool) -> PageInfo:
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=has_previous,
        start_cursor=cursor(rows[0].id) if rows else None,
        end_cursor=cursor(rows[-1].id) if rows else None,
    )


def _window(query: QuerySet, request: PageRequest, newest_first: bool) -> QuerySet:
    # In display order, "after" a cursor is further down the list.
    later, earlier = ("id__lt", "id__gt") if newest_first else ("id__gt", "id__lt")
    if request.after is not None:
        query = query.filter(**{later: request.after})
    if request.before is not None:
        query = query.filter(**{earlier: request.before})
    return query


async def fetch_page(
    query: QuerySet, request: PageRequest, *, newest_first: bool = False, count: bool = False
) -> Page[Any]:
    """One page of ``query`` (one statement), ordered by id as the connection shows it.

    With ``count`` and no cursor, the same statement also counts every row of ``query``
    (``COUNT(*) OVER ()``, computed before the limit) into ``Page.total``: a connection's
    ``totalCount`` then costs no statement of its own. Behind a cursor the window would
    count only the rows past it, so ``total`` stays None there and the caller counts.
    """
    order = "-id" if newest_first else "id"
    reverse = "id" if newest_first else "-id"
    window = _window(query, request, newest_first)
    counted = count and request.after is None and request.before is None
    if counted:
        window = window.annotate(**{_TOTAL: RawSQL("COUNT(*) OVER ()")})
    if request.from_end:
        rows = list(await window.order_by(reverse).limit(request.size + 1))
        more = len(rows) > request.size
        page = rows[: request.size][::-1]
        return Page(
            page,
            has_next=request.before is not None,
            has_previous=more,
            total=_total(rows) if counted else None,
        )
    rows = list(await window.order_by(order).limit(request.size + 1))
    return Page(
        rows[: request.size],
        has_next=len(rows) > request.size,
        has_previous=request.after is not None,
        total=_total(rows) if counted else None,
    )


_TOTAL = "connection_total"


def _total(rows: Sequence[Any]) -> int:
    return int(getattr(rows[0], _TOTAL)) if rows else 0


def slice_page(rows: Sequence[Row], request: PageRequest, *, newest_first: bool) -> Page[Row]:
    """The page ``request`` asks for out of ``rows`` already in display order (a batch
    loaded for many parents at once)."""

    def later(pk: int, bound: int) -> bool:
        return pk < bound if newest_first else pk > bound

    window = [
        row
        for row in rows
        if (request.after is None or later(row.id, request.after))
        and (request.before is None or later(request.before, row.id))
    ]
    if request.from_end:
        return Page(
            window[-request.size :],
            has_next=request.before is not None,
            has_previous=len(window) > request.size,
        )
    return Page(
        window[: request.size],
        has_next=len(window) > request.size,
        has_previous=request.after is not None,
    )
