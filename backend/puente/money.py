"""The one money type of Puente: ``Decimal`` in code, integer centavos at rest.

Every amount is Mexican pesos (MXN). Floats are refused on purpose: a float cannot hold
0.10 exactly, and a lender must be able to trust every centavo.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "CENT",
    "CURRENCY",
    "ZERO",
    "InvalidAmount",
    "format_mxn",
    "from_centavos",
    "parse_amount",
    "round_centavos",
    "to_centavos",
]

CURRENCY = "MXN"
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


class InvalidAmount(ValueError):
    """An amount that is not a finite decimal number with at most two decimals."""


def parse_amount(value: object, *, allow_negative: bool = False) -> Decimal:
    """Turn user or provider input into an exact peso amount; refuse floats and junk."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount("amounts must be given as decimal strings, not floats")
    if isinstance(value, Decimal):
        amount = value
    elif isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        text = value.strip().replace(",", "")
        if text.startswith("$"):
            text = text[1:].strip()
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(f"{value!r} is not an amount") from None
    else:
        raise InvalidAmount(f"{type(value).__name__} is not an amount")
    if not amount.is_finite():
        raise InvalidAmount("amount must be a finite number")
    try:
        exact = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    except InvalidOperation:
        # More digits than the decimal context holds ("1e30"): junk, not a 500.
        raise InvalidAmount("amount is too large") from None
    if amount != exact:
        raise InvalidAmount("amount has more than two decimals (centavos)")
    if amount < 0 and not allow_negative:
        raise InvalidAmount("amount must not be negative")
    return exact


def round_centavos(value: Decimal) -> Decimal:
    """Round to the centavo, half up: the rounding Mexican statements use."""
    if isinstance(value, float):
        raise InvalidAmount("refusing to round a float")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def to_centavos(value: Decimal) -> int:
    """Exact conversion to integer centavos; refuses amounts with fractions of a centavo."""
    if isinstance(value, float):
        raise InvalidAmount("refusing to store a float")
    scaled = Decimal(value) * 100
    if scaled != scaled.to_integral_value():
        raise InvalidAmount(f"{value} has fractions of a centavo")
    return int(scaled)


def from_centavos(centavos: int) -> Decimal:
    """Integer centavos (as stored) back to pesos."""
    if not isinstance(centavos, int) or isinstance(centavos, bool):
        raise InvalidAmount("centavos must be an integer")
    return (Decimal(centavos) / 100).quantize(CENT)


def format_mxn(value: Decimal, *, currency: bool = True) -> str:
    """Format as Mexicans read it: ``$1,234.56 MXN`` (negative: ``-$1,234.56 MXN``)."""
    amount = round_centavos(value)
    sign = "-" if amount < 0 else ""
    text = f"{sign}${abs(amount):,.2f}"
    return f"{text} MXN" if currency else text
