"""Provider timestamps as aware UTC datetimes: unix seconds, unix milliseconds, ISO-8601.

Gateways disagree on how to say "when": Stripe and Conekta send unix seconds, STP epoch
milliseconds, Mercado Pago and PayPal ISO-8601 whose offset may be ``Z`` or lack its colon
(``-0400``, PayPal's reporting API).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["MEXICO_CITY", "from_unix_millis", "from_unix_seconds", "iso_mexico_city", "iso_utc"]

MEXICO_CITY = ZoneInfo("America/Mexico_City")

_OFFSET_WITHOUT_COLON = re.compile(r"([+-]\d{2})(\d{2})$")


def from_unix_seconds(value: Any) -> datetime | None:
    """An integer unix time in seconds as UTC; anything else (``None``, text) is ``None``."""
    if isinstance(value, int) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    return None


def from_unix_millis(value: Any) -> datetime | None:
    """A positive epoch time in milliseconds (int or ``Decimal``) as UTC; else ``None``."""
    if isinstance(value, int | Decimal) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    return None


def iso_utc(value: Any) -> datetime | None:
    """``2024-05-10T13:43:14.586-04:00`` (or ``Z``, or ``-0400``) as UTC; empty is ``None``.

    A timestamp without an offset is taken as UTC; unreadable text raises ``ValueError``.
    """
    if not isinstance(value, str) or not value:
        return None
    text = _OFFSET_WITHOUT_COLON.sub(r"\1:\2", value.replace("Z", "+00:00"))
    when = datetime.fromisoformat(text)
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)


def iso_mexico_city(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as UTC, one without offset taken as Mexico City local time
    (Openpay's); empty or unreadable text is ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=MEXICO_CITY)
    return parsed.astimezone(UTC)
