"""Tuition as a loan product kind: what the loan core asks tuition, registered at import.

The loan core (``loans/pricing.py``) never imports tuition; it asks the pricing registered
for a product kind. ``puente/tuition/__init__.py`` imports this module, so importing any
part of tuition registers it, and the app and the CLI import the package at start.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.enums import SuspenseReason
from puente.loans.contract import LoanContract
from puente.loans.engine import InstallmentState, allocate_payment
from puente.loans.models import Loan
from puente.loans.pricing import register_pricing
from puente.loans.settlement import Settlement
from puente.tuition.engine import TUITION_PRELACION
from puente.tuition.pricing import plan_from_settings
from puente.tuition.pricing import priced_for_day as price_states_for_day
from puente.tuition.service import (
    charge_recargos,
    grant_discounts,
    post_recargos,
    price_for_payment,
)

__all__ = ["TUITION", "TuitionProduct", "settle_tuition_payment"]


async def settle_tuition_payment(
    contract: LoanContract,
    amount: Decimal,
    on: date,
    payment_key: str,
    conn: BaseDBAsyncClient,
) -> Settlement:
    """A colegiatura payment priced as of ``on`` (tuition prelación: recargos, then what is
    due, then the next months; anything beyond the whole cycle waits in suspense)."""
    loan = contract.loan
    pricing = price_for_payment(contract, on)
    states = contract.states
    if pricing is not None:
        await post_recargos(loan, pricing.recargos, on, conn=conn)
        states = pricing.states
    allocation = allocate_payment(states, amount, on, TUITION_PRELACION)

    async def discounts(loan: Loan, conn: BaseDBAsyncClient) -> None:
        if pricing is not None:
            await grant_discounts(loan, pricing, allocation, payment_key=payment_key, conn=conn)

    return Settlement(
        allocation=allocation,
        after=allocation.installments,
        advance=allocation.advance,
        suspense=allocation.surplus - allocation.advance,
        suspense_reason=SuspenseReason.ABOVE_PAYOFF,  # beyond the whole cycle
        follow_ups=(discounts,),
    )


class TuitionProduct:
    """Colegiaturas: priced by the payment's date (pronto pago, recargo), recargos instead
    of moratorium, the tuition prelación."""

    kind = "tuition"

    def recognises(self, loan: Loan) -> bool:
        return plan_from_settings(loan.settings) is not None

    def priced_for_day(
        self, loan: Loan, states: tuple[InstallmentState, ...], on: date
    ) -> tuple[InstallmentState, ...]:
        return price_states_for_day(loan.settings, states, on)

    async def charge_late(
        self, contract: LoanContract, day: date, *, conn: BaseDBAsyncClient
    ) -> int:
        return await charge_recargos(contract, day, conn=conn)

    async def settle_payment(
        self,
        contract: LoanContract,
        amount: Decimal,
        on: date,
        payment_key: str,
        conn: BaseDBAsyncClient,
    ) -> Settlement:
        return await settle_tuition_payment(contract, amount, on, payment_key, conn)


TUITION = TuitionProduct()
register_pricing(TUITION)
