"""Which way money moved on a statement line."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Direction"]


class Direction(StrEnum):
    """Seen from the institution's account: money in (abono) or out (cargo)."""

    CREDIT = "credit"
    DEBIT = "debit"
