"""Product kinds that price their loans their own way, registered with the loan core.

A loan of an ordinary kind (personal, payroll…) owes what its contract and postings say,
plus moratorium. A product kind built on top of loans may change three things, and only
through this registry, so the loan core never imports it:

- what each installment owes if paid on a given day (the read model, the payoff, the
  checks on a payment): ``priced_for_day``;
- what the daily job charges a late installment instead of moratorium: ``charge_late``;
- where a payment goes: ``settle_payment``.

Tuition (``puente.tuition``, colegiaturas) registers itself when its package is imported;
the app and the CLI import it at start. A loan whose product kind is neither ordinary nor
registered is refused loudly (``UnknownProductKind``) rather than priced as a plain loan.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.loans.engine import InstallmentState
from puente.loans.models import Loan

if TYPE_CHECKING:
    from puente.loans.contract import LoanContract
    from puente.loans.settlement import Settlement

__all__ = [
    "ORDINARY_KINDS",
    "ProductPricing",
    "UnknownProductKind",
    "priced_for_day",
    "pricing_for",
    "register_pricing",
    "registered_kinds",
]

# Kinds that are plain loans: contract, prelación, moratorium (LoanProduct.kind).
ORDINARY_KINDS = frozenset({"personal", "payroll", "other"})


class UnknownProductKind(LookupError):
    """A product kind nobody registered: its loans cannot be priced."""


class ProductPricing(Protocol):
    """What a product kind built on loans decides for its own loans."""

    kind: str

    def recognises(self, loan: Loan) -> bool:
        """True for this kind's loans, from what the loan stores (its product not loaded)."""
        ...

    def priced_for_day(
        self, loan: Loan, states: tuple[InstallmentState, ...], on: date
    ) -> tuple[InstallmentState, ...]:
        """What each installment owes if paid on ``on`` (late charges of the day included)."""
        ...

    async def charge_late(
        self, contract: LoanContract, day: date, *, conn: BaseDBAsyncClient
    ) -> int:
        """The daily job's late charges through ``day``; returns how many entries it posted."""
        ...

    async def settle_payment(
        self,
        contract: LoanContract,
        amount: Decimal,
        on: date,
        payment_key: str,
        conn: BaseDBAsyncClient,
    ) -> Settlement:
        """Where a payment of ``amount`` received ``on`` goes (the loan takes payments)."""
        ...


_REGISTRY: dict[str, ProductPricing] = {}


def register_pricing(pricing: ProductPricing) -> None:
    """Make ``pricing`` the one for its kind (registering the same object again is a no-op)."""
    if pricing.kind in ORDINARY_KINDS:
        raise ValueError(f"{pricing.kind!r} is an ordinary loan kind")
    current = _REGISTRY.get(pricing.kind)
    if current is not None and current is not pricing:
        raise ValueError(f"a pricing for {pricing.kind!r} is already registered")
    _REGISTRY[pricing.kind] = pricing


def registered_kinds() -> frozenset[str]:
    return frozenset(_REGISTRY)


def pricing_for(kind: str) -> ProductPricing | None:
    """The registered pricing of a product kind; None for an ordinary loan."""
    pricing = _REGISTRY.get(kind)
    if pricing is None and kind not in ORDINARY_KINDS:
        raise UnknownProductKind(
            f"no pricing is registered for loan product kind {kind!r}: import its package "
            "at start-up (the app and the CLI import puente.tuition)"
        )
    return pricing


def priced_for_day(
    loan: Loan, states: Sequence[InstallmentState], on: date
) -> tuple[InstallmentState, ...]:
    """What each installment of ``loan`` owes if paid on ``on``: the pricing that recognises
    the loan prices it for that day, any other loan is as its contract says."""
    states = tuple(states)
    for pricing in _REGISTRY.values():
        if pricing.recognises(loan):
            return pricing.priced_for_day(loan, states, on)
    return states
