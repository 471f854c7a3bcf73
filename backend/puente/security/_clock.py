"""Time helpers shared by the security modules (aware UTC datetimes only)."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["require_aware", "utc_now"]


def utc_now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def require_aware(moment: datetime | None, name: str = "now") -> datetime:
    """Return ``moment`` (or the current time) after refusing naive datetimes."""
    if moment is None:
        return utc_now()
    # A naive datetime would be read as local time by .timestamp(): a silent off-by-hours bug.
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (use datetime.now(UTC))")
    return moment
