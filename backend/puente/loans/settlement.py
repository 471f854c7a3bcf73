"""Deciding where one payment goes: the engines' answer, plus what must be posted with it.

``apply_payment`` asks for a ``Settlement`` and posts it. Three cases:
- a loan payment that covers the payoff (liquidación anticipada): everything is settled with
  interest only to the payment date; the interest not earned is waived by an ADJUSTMENT
  (Dr interest_income, Cr loan_interest; its IVA back from vat_uncollected);
- any other loan payment: prelación, then the surplus per the borrower's choice:
  REDUCE_TERM / REDUCE_INSTALLMENT (pago anticipado: principal, and a new contract version
  from ``reamortize``) or ADVANCE (pago adelantado: held in loan_advance);
- a product kind with its own pricing (``loans/pricing.py``; tuition: priced as of its
  date, recargos charged, pronto-pago discount granted on what it settles) builds its own
  ``Settlement``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient

from puente.audit.service import record_audit
from puente.enums import JournalKind, SuspenseReason
from puente.ledger.posting import post_entry
from puente.loans.contract import LoanContract, loan_terms, replace_future_rows
from puente.loans.engine import (
    PAYOFF_PRELACION,
    Allocation,
    AllocationError,
    Charge,
    Component,
    InstallmentState,
    OverpaymentMode,
    Reamortization,
    allocate_payment,
    current_installment,
    installments_after,
    reamortize,
)
from puente.loans.models import Loan, LoanProduct
from puente.loans.payoff import PayoffQuote, quote_for_contract
from puente.loans.postings import reduction_lines
from puente.money import ZERO

__all__ = ["Settlement", "settle_loan_payment", "settle_unpayable"]

FollowUp = Callable[[Loan, BaseDBAsyncClient], Awaitable[None]]


@dataclass(frozen=True)
class Settlement:
    """Where a payment goes. Cash + ``advance_used`` + ``interest_credited`` = allocated
    lines + ``prepayment`` + ``advance`` + ``suspense``, to the centavo."""

    allocation: Allocation
    after: tuple[InstallmentState, ...]  # the contract's states once this is posted
    advance_used: Decimal = ZERO  # pagos adelantados consumed (payoff)
    interest_credited: tuple[Charge, ...] = ()  # interest paid ahead, taken back (payoff)
    advance: Decimal = ZERO  # to hold in loan_advance
    prepayment: Decimal = ZERO  # to principal, contract re-amortized
    suspense: Decimal = ZERO
    suspense_reason: SuspenseReason = SuspenseReason.NOT_APPLICABLE  # why, when suspense > 0
    follow_ups: tuple[FollowUp, ...] = field(default_factory=tuple)

    async def after_posting(self, loan: Loan, conn: BaseDBAsyncClient) -> None:
        """Entries and contract changes that go with the payment entry (same transaction)."""
        for follow_up in self.follow_ups:
            await follow_up(loan, conn)


async def settle_loan_payment(
    contract: LoanContract,
    product: LoanProduct,
    amount: Decimal,
    on: date,
    mode: OverpaymentMode,
    held_advance: Decimal,
    payment_key: str,
    conn: BaseDBAsyncClient,
) -> Settlement:
    """Where a loan payment of ``amount`` received ``on`` goes (the loan is running)."""
    loan = contract.loan
    quote = await quote_for_contract(contract, product, on, held_advance, conn)
    if quote.payoff.total > 0 and amount >= quote.total:
        return _payoff(contract, quote, amount, payment_key)
    allocation = allocate_payment(contract.states, amount, on, overpayment=mode)
    prepayment, advance = allocation.prepayment, allocation.advance
    if not product.allows_overpayment:
        prepayment = advance = ZERO
    after = allocation.installments
    follow_ups: tuple[FollowUp, ...] = ()
    if prepayment:
        try:
            plan = reamortize(loan_terms(loan), allocation.installments, prepayment, mode, on)
        except AllocationError:
            prepayment = ZERO  # cannot re-amortize (installments to come hold payments)
        else:
            after = plan.installments
            current = current_installment(allocation.installments, on)
            replaced = [s.number for s in installments_after(allocation.installments, current)]
            follow_ups = (_new_contract_version(plan, replaced, mode, on),)
    return Settlement(
        allocation=allocation,
        after=after,
        advance=advance,
        prepayment=prepayment,
        suspense=allocation.surplus - prepayment - advance,
        follow_ups=follow_ups,
    )


def settle_unpayable(amount: Decimal, on: date) -> Settlement:
    """Money for a loan that takes no payments any more (paid off or written off by the time
    it is applied): nothing is receivable, so all of it waits in suspense for staff."""
    nothing = allocate_payment((), amount, on)
    return Settlement(
        allocation=nothing,
        after=(),
        suspense=amount,
        suspense_reason=SuspenseReason.LOAN_NOT_PAYABLE,
    )


def _payoff(
    contract: LoanContract, quote: PayoffQuote, amount: Decimal, payment_key: str
) -> Settlement:
    payoff = quote.payoff
    # Interest paid ahead of the days elapsed is credited (the payoff already counts it):
    # taken back from that interest, it pays the rest of the loan.
    credits = payoff.credits
    allocation = allocate_payment(
        payoff.installments,
        amount + quote.advance + payoff.unearned_interest_paid,
        payoff.as_of,
        PAYOFF_PRELACION,
    )
    ahead = {(c.installment_number, c.component): c.amount for c in credits}
    waived: list[Charge] = []
    for before, restated in zip(contract.states, payoff.installments, strict=True):
        for component in (Component.INTEREST, Component.INTEREST_VAT):
            difference = before.due[component] - restated.due[component]
            difference += ahead.get((before.number, component), ZERO)
            if difference > 0:
                waived.append(Charge(before.number, component, difference))

    async def waive_unearned_interest(loan: Loan, conn: BaseDBAsyncClient) -> None:
        # mexico.md §2.1 (LFPC art. 66): interest only for elapsed time, never in advance.
        if not waived:
            return
        await post_entry(
            reduction_lines(loan.institution_id, loan.id, waived),
            kind=JournalKind.ADJUSTMENT,
            effective_date=payoff.as_of,
            memo="intereses no devengados: liquidación anticipada",
            loan_id=loan.id,
            idempotency_key=f"payoff-waiver:{payment_key}",
            conn=conn,
        )

    return Settlement(
        allocation=allocation,
        after=allocation.installments,
        advance_used=quote.advance,
        interest_credited=credits,
        suspense=allocation.surplus,
        suspense_reason=SuspenseReason.ABOVE_PAYOFF,
        follow_ups=(waive_unearned_interest,),
    )


def _new_contract_version(
    plan: Reamortization, replaced: list[int], mode: OverpaymentMode, on: date
) -> FollowUp:
    async def replace(loan: Loan, conn: BaseDBAsyncClient) -> None:
        version = await replace_future_rows(loan, replaced, plan.rows, on=on, conn=conn)
        await record_audit(
            "loan.prepaid",
            institution_id=loan.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={
                "mode": mode.value,
                "prepayment": str(plan.prepayment),
                "version": version,
                "installments_before": len(replaced),
                "installments_after": len(plan.rows),
                "level": str(plan.level),
            },
            conn=conn,
        )

    return replace
