"""The Decimal scalar as Puente reads it: a decimal string (or a whole number), never a float.

Strawberry's own Decimal scalar turns any JSON number into a Decimal through ``str()`` and
accepts "NaN" and "Infinity"; money and rates here are exact and finite (``puente.money``),
so anything else is refused while the variables are read: a GraphQL validation error that
names the input, never a resolver crash.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.types.scalar import ScalarDefinition

__all__ = ["DECIMAL", "SCALAR_OVERRIDES", "parse_decimal"]


def parse_decimal(value: object) -> Decimal:
    """A finite Decimal from a decimal string or a whole number; refuses floats and junk."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise StrawberryInputCoercionError(
            f'Value cannot represent a Decimal: {value!r}. Send it as a string, e.g. "1234.56".'
        )
    try:
        number = Decimal(value.strip() if isinstance(value, str) else value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise StrawberryInputCoercionError(
            f"Value cannot represent a Decimal: {value!r}. Expected a finite decimal number."
        )
    return number


# Same name and description as strawberry's, so the exported schema does not change.
DECIMAL = ScalarDefinition(
    name="Decimal",
    description="Decimal (fixed-point)",
    specified_by_url=None,
    serialize=str,
    parse_value=parse_decimal,
    parse_literal=None,
    origin=Decimal,
)
SCALAR_OVERRIDES = {Decimal: DECIMAL}
