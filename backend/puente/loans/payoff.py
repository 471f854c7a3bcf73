"""Payoff quotes (liquidación anticipada): what settles a loan on a given day.

The engine's ``payoff_amount`` does the arithmetic (interest only for elapsed days, mexico.md
§2.1); this adds what the ledger knows: moratorium not posted yet up to that day, and the
advance payments the loan already holds, which count towards the payoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.enums import LedgerAccountType as T
from puente.enums import LoanStatus
from puente.ledger.posting import loan_account_balances
from puente.loans.contract import LoanContract, load_contract
from puente.loans.delinquency_service import (
    any_late,
    last_accrued_day,
    moratorium_policy,
    pending_accruals,
)
from puente.loans.engine import InstallmentState, Payoff, add_charges, payoff_amount
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Loan, LoanProduct
from puente.loans.pricing import pricing_for
from puente.money import ZERO, from_centavos

__all__ = ["PayoffQuote", "payoff_quote", "quote_for_contract", "states_as_of"]


@dataclass(frozen=True)
class PayoffQuote:
    """``total`` is what the borrower pays on ``as_of`` to owe nothing more."""

    as_of: date
    payoff: Payoff  # the engine's breakdown, before the advance held
    advance: Decimal  # pagos adelantados already held, applied to the payoff
    total: Decimal


async def quote_for_contract(
    contract: LoanContract,
    product: LoanProduct,
    as_of: date,
    advance: Decimal,
    conn: BaseDBAsyncClient | None = None,
) -> PayoffQuote:
    """The payoff of an already loaded contract (the payment service reuses its state)."""
    states = await _states_as_of(contract, product, as_of, conn)
    payoff = payoff_amount(states, as_of)
    total = max(payoff.total - advance, ZERO)
    return PayoffQuote(as_of=as_of, payoff=payoff, advance=advance, total=total)


async def payoff_quote(
    loan: Loan, as_of: date, conn: BaseDBAsyncClient | None = None
) -> PayoffQuote:
    """What settles ``loan`` on ``as_of``: outstanding principal, interest and IVA earned to
    that day, fees and moratorium (also the moratorium not posted yet), less advances held.
    Zero for a loan that is not running (not disbursed yet, paid off or written off)."""
    if LoanStatus(loan.status) not in OPEN_STATUSES:
        return PayoffQuote(as_of=as_of, payoff=payoff_amount((), as_of), advance=ZERO, total=ZERO)
    product = await LoanProduct.get(id=loan.product_id).using_db(conn)
    contract = await load_contract(loan, conn)
    balances = (await loan_account_balances([loan.id], conn))[loan.id]
    advance = from_centavos(balances.get(T.LOAN_ADVANCE, 0))
    return await quote_for_contract(contract, product, as_of, advance, conn)


async def states_as_of(
    loan: Loan, as_of: date, conn: BaseDBAsyncClient | None = None
) -> tuple[InstallmentState, ...]:
    """The loan's installment states on ``as_of`` with everything a payment that day would
    owe: moratorium and late fees not posted yet, a colegiatura's price of the day."""
    product = await LoanProduct.get(id=loan.product_id).using_db(conn)
    return await _states_as_of(await load_contract(loan, conn), product, as_of, conn)


async def _states_as_of(
    contract: LoanContract, product: LoanProduct, as_of: date, conn: BaseDBAsyncClient | None
) -> tuple[InstallmentState, ...]:
    pricing = pricing_for(product.kind)
    if pricing is not None:  # e.g. a colegiatura: its price of the day, recargo included
        return pricing.priced_for_day(contract.loan, contract.states, as_of)
    if not any_late(contract, as_of):
        return contract.states  # nothing accrues before a grace ends: no need to ask the ledger
    policy = moratorium_policy(product, contract.loan)
    last = await last_accrued_day(contract.loan.id, conn)
    charges = [c for a in pending_accruals(contract, policy, as_of, last) for c in a.charges]
    return add_charges(contract.states, charges)
