"""Relay-style paging shared by every connection: opaque cursors and bounded page sizes."""

from __future__ import annotations

import base64
import binascii

from puente.graphql.errors import UserFacingError
from puente.graphql.types import MAX_ID

__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "after_id", "cursor", "page_size"]

MAX_PAGE = 100
DEFAULT_PAGE = 20


def cursor(pk: int) -> str:
    """The cursor of the row with primary key ``pk``."""
    return base64.urlsafe_b64encode(f"cursor:{pk}".encode()).decode()


def after_id(after: str | None) -> int:
    """The primary key an ``after`` cursor names (0: from the start), or ``BAD_CURSOR``."""
    if not after:
        return 0
    try:
        prefix, _, pk = base64.urlsafe_b64decode(after.encode()).decode().partition(":")
        if prefix == "cursor" and 0 <= int(pk) <= MAX_ID:
            return int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise UserFacingError("BAD_CURSOR", "The 'after' cursor is not one this API returned.")


def page_size(first: int | None) -> int:
    """``first`` within 1..MAX_PAGE (DEFAULT_PAGE when absent), or ``BAD_PAGE_SIZE``."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise UserFacingError("BAD_PAGE_SIZE", f"'first' must be between 1 and {MAX_PAGE}.")
    return first
