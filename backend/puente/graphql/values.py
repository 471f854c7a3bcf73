"""The leaves every GraphQL module shares: ids, money, the Node interface and page info.

Nothing here imports another ``puente.graphql`` module, so any of them may import this.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_UP, Decimal

import strawberry
from strawberry.types import Info

from puente.money import CENT, CURRENCY, round_centavos

__all__ = [
    "MAX_ID",
    "Count",
    "Money",
    "Node",
    "PageInfo",
    "decode_global_id",
    "encode_global_id",
    "graphql_type",
    "money",
    "no_rows",
]


MAX_ID = 2**31 - 1


def encode_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


def decode_global_id(value: str) -> tuple[str, int] | None:
    """``(type name, primary key)``, or None when ``value`` is not an id this API issues."""
    try:
        text = base64.urlsafe_b64decode(value.encode()).decode()
        type_name, _, pk = text.partition(":")
        number = int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    # Ids are 32-bit: a larger one is no object's (and PostgreSQL refuses it as a bound).
    return (type_name, number) if 0 < number <= MAX_ID else None


@strawberry.type(description='An amount of money; amount is a decimal string, e.g. "1234.56".')
class Money:
    amount: Decimal
    currency: str


def money(value: Decimal) -> Money:
    """The API's money: rounded to the centavo, half up (``money.round_centavos``)."""
    if type(value) is Decimal:  # the read model's values: nothing to check, only round
        return Money(amount=value.quantize(CENT, rounding=ROUND_HALF_UP), currency=CURRENCY)
    return Money(amount=round_centavos(value), currency=CURRENCY)


@strawberry.interface(description="An object with a globally unique id.")
class Node:
    id: strawberry.ID


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None
    has_previous_page: bool = False
    start_cursor: str | None = None


Count = Callable[[], Awaitable[int]]


async def no_rows() -> int:
    return 0


def graphql_type(info: Info, name: str) -> type:
    """The class of the schema's type ``name``.

    The graph points both ways (a payment's loan, a loan's payments, a loan's institution)
    while the modules defining those types must not import each other: a field pointing back
    builds its answer with the class the schema registered under that name.
    """
    definition = info.schema.get_type_by_name(name)
    if definition is None or not hasattr(definition, "origin"):
        raise LookupError(f"no GraphQL object type {name}")
    return definition.origin
