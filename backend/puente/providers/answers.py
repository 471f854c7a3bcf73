"""Reading a provider's answer body: JSON, objects and error bodies, the same way everywhere.

An answer we cannot read is a ``MalformedResponse``, never a ``ValueError`` in the payments
service. Providers that carry amounts as JSON numbers (Mercado Pago, Openpay, STP) are read
with ``decimals=True`` so every non-integer number becomes a ``Decimal`` and no float ever
holds money; ``json_amount`` turns such a number into pesos and ``json_number`` is the one way
back (Python's ``json`` cannot write a ``Decimal``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import httpx

from puente.money import InvalidAmount, parse_amount, round_centavos
from puente.providers.errors import MalformedResponse

__all__ = [
    "decimal_json",
    "error_body",
    "first_mapping",
    "json_amount",
    "json_number",
    "read_json",
    "read_object",
]


def decimal_json(content: bytes | str) -> Any:
    """JSON with every non-integer number read as ``Decimal``."""
    return json.loads(content, parse_float=Decimal)


def _decode(response: httpx.Response, decimals: bool) -> Any:
    return decimal_json(response.content) if decimals else response.json()


def read_json(response: httpx.Response, *, provider: str, what: str, decimals: bool = False) -> Any:
    """The answer's JSON; ``MalformedResponse`` ("``what`` answered with non-JSON") if not."""
    try:
        return _decode(response, decimals)
    except ValueError:
        raise MalformedResponse(f"{what} answered with non-JSON", provider=provider) from None


def read_object(
    response: httpx.Response, *, provider: str, what: str, decimals: bool = False
) -> dict[str, Any]:
    """The answer's JSON object; ``MalformedResponse`` for non-JSON or any other JSON value."""
    body = read_json(response, provider=provider, what=what, decimals=decimals)
    if not isinstance(body, dict):
        raise MalformedResponse(f"{what} answered with a non-object", provider=provider)
    return body


def error_body(response: httpx.Response, *, decimals: bool = False) -> Mapping[str, Any]:
    """An error answer's JSON object, or ``{}`` when it has none (HTML from a proxy, a list)."""
    try:
        body = _decode(response, decimals)
    except ValueError:
        return {}
    return body if isinstance(body, Mapping) else {}


def first_mapping(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """The first object of the list ``body[key]`` (error details), or ``{}``."""
    items = body.get(key)
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return {}


def json_amount(value: Any, *, allow_negative: bool = False) -> Decimal:
    """Pesos from a JSON-number amount read with ``decimals=True`` (an ``int`` or ``Decimal``).

    Sub-centavo digits (a computed fee) are rounded once, by ``round_centavos``; a float,
    ``bool`` or ``None`` is refused with ``InvalidAmount``.
    """
    if isinstance(value, Decimal):
        value = round_centavos(value)
    return parse_amount(value, allow_negative=allow_negative)


def json_number(amount: Decimal) -> int | float:
    """A peso amount as a value ``json.dumps`` writes as exactly that decimal number."""
    amount = parse_amount(amount)
    if amount == amount.to_integral_value():
        return int(amount)
    number = float(amount)
    # Proof, not hope: the shortest repr of this float must be the same decimal.
    if Decimal(repr(number)) != amount:
        raise InvalidAmount(f"{amount} cannot be written as an exact JSON number")
    return number
