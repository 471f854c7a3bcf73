"""Payment application: where received money goes, posted exactly once.

``apply_payment`` posts moratorium owed up to the payment's day, asks ``settlement`` (or
the product kind's pricing, ``loans/pricing.py``) where the money goes, bills what it
reaches, posts the payment entry, opens a suspense item for what the loan cannot take and
closes a loan it settles. ``apply_advances`` applies pagos adelantados held in loan_advance
when installments fall due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.enums import JournalKind, LoanStatus
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line
from puente.ledger.posting import AlreadyPosted, loan_account_balances, post_entry
from puente.ledger.suspense import open_suspense_item
from puente.loans.billing import bill_reached
from puente.loans.contract import LoanReads, load_contract
from puente.loans.delinquency_service import accrue_locked
from puente.loans.engine import Component, OverpaymentMode, allocate_payment
from puente.loans.lifecycle import OPEN_STATUSES, transition
from puente.loans.models import Loan, LoanProduct
from puente.loans.payable import may_take_payments
from puente.loans.postings import allocation_lines, cash_line, credit_back_lines
from puente.loans.pricing import pricing_for
from puente.loans.settlement import Settlement, settle_loan_payment, settle_unpayable
from puente.money import ZERO, from_centavos, to_centavos

__all__ = ["AppliedPayment", "apply_advances", "apply_payment"]


@dataclass(frozen=True, slots=True)
class AppliedPayment:
    """Where a payment went; ``prepayment`` re-amortized the loan, ``unapplied`` waits in
    suspense (nothing left to owe: a refund)."""

    entry_id: int
    applied: Decimal
    advance: Decimal
    prepayment: Decimal
    unapplied: Decimal
    paid_off: bool = False


async def apply_payment(
    loan: Loan,
    amount: Decimal,
    *,
    received_on: date,
    provider: str,
    payment_id: int | None = None,
    idempotency_key: str,
    overpayment: OverpaymentMode | None = None,
    source: str = "",
    conn: BaseDBAsyncClient | None = None,
    loan_locked: bool = False,
    product: LoanProduct | None = None,
    reads: LoanReads | None = None,
) -> AppliedPayment:
    """Allocate a received payment by prelación and post it, exactly once per key.

    Moratorium owed up to ``received_on`` is posted first, so the payment sees what is owed
    that day. A tuition payment is priced as of its date (pronto pago, recargo). A payment
    that covers the payoff settles the loan, with interest only to that day. Otherwise the
    surplus follows ``overpayment`` (default: the borrower's choice stored on the loan).
    Whatever cannot be applied (the loan closed meanwhile, more than the payoff) is credited
    to suspense with an exception for staff naming ``source`` (who brought the money).
    Runs in the caller's transaction when ``conn`` is given (the payment's state change and
    its ledger entry must commit together); ``loan_locked``: ``loan`` is the row the caller
    read FOR UPDATE in that transaction (it is not read again), ``product`` its product,
    ``reads`` what was read of it under that lock before anything was written to it
    (``contract.read_loans``).
    """
    if conn is None:
        async with in_transaction() as tx:
            return await apply_payment(
                loan,
                amount,
                received_on=received_on,
                provider=provider,
                payment_id=payment_id,
                idempotency_key=idempotency_key,
                overpayment=overpayment,
                source=source,
                conn=tx,
                loan_locked=loan_locked,
                product=product,
                reads=reads,
            )
    # Posted once per key: post_entry refuses a second entry (AlreadyPosted), and everything
    # this call wrote before that rolls back with the caller's transaction.
    key = f"payment:{idempotency_key}"
    # Serialise payments of one loan: allocation reads the state it then changes.
    locked = loan if loan_locked else await Loan.select_for_update().using_db(conn).get(id=loan.id)
    if product is None or product.id != locked.product_id:
        product = await LoanProduct.get(id=locked.product_id).using_db(conn)
    if not loan_locked:
        reads = None  # read before this call's lock: maybe stale
    contract = None
    if LoanStatus(locked.status) in OPEN_STATUSES:
        _, contract = await accrue_locked(locked, product, received_on, conn=conn, reads=reads)
    if contract is None:  # not read yet, or charges were posted since
        reads = None
        contract = await load_contract(locked, conn, dated=False)  # never asks states_before
    if reads is not None:
        balances = reads.balances
    else:
        balances = (await loan_account_balances([loan.id], conn))[loan.id]
    held_advance = from_centavos(balances.get(T.LOAN_ADVANCE, 0))
    if not may_take_payments(locked.status):
        # Paid off or written off before this money was applied: it still reaches the
        # books, in suspense with an exception for staff (never silently dropped).
        settlement = settle_unpayable(amount, received_on)
    elif (pricing := pricing_for(product.kind)) is not None:  # tuition: priced by its date
        settlement = await pricing.settle_payment(contract, amount, received_on, key, conn)
    else:
        mode = OverpaymentMode(overpayment or locked.overpayment_mode)
        settlement = await settle_loan_payment(
            contract, product, amount, received_on, mode, held_advance, key, conn
        )
    allocation = settlement.allocation
    reached = {line.installment_number for line in allocation.lines}
    await bill_reached(locked, reached, conn, contract.rows)
    entry = await post_entry(
        _payment_lines(locked, provider, amount, settlement),
        kind=JournalKind.PAYMENT,
        effective_date=received_on,
        memo=f"payment {payment_id or idempotency_key}",
        loan_id=loan.id,
        payment_id=payment_id,
        idempotency_key=key,
        conn=conn,
    )
    if settlement.suspense:
        await open_suspense_item(
            entry,
            settlement.suspense,
            settlement.suspense_reason,
            loan_id=loan.id,
            payment_id=payment_id,
            source=source or key,
            conn=conn,
        )
    await settlement.after_posting(locked, conn)
    paid_off = await _close_if_settled(locked, settlement, conn)
    return AppliedPayment(
        entry_id=entry.id,
        applied=allocation.applied,
        advance=settlement.advance,
        prepayment=settlement.prepayment,
        unapplied=settlement.suspense,
        paid_off=paid_off,
    )


def _payment_lines(
    loan: Loan, provider: str, amount: Decimal, settlement: Settlement
) -> list[Line]:
    inst = loan.institution_id
    lines = [cash_line(inst, provider, to_centavos(amount))]
    advance_account = AccountRef(inst, T.LOAN_ADVANCE, loan_id=loan.id)
    if settlement.advance_used:
        lines.append(Line(advance_account, to_centavos(settlement.advance_used)))
    lines.extend(credit_back_lines(inst, loan.id, settlement.interest_credited))
    lines.extend(allocation_lines(inst, loan.id, settlement.allocation.lines))
    if settlement.prepayment:
        # Pago anticipado: straight to principal; the new contract version reflects it.
        principal = AccountRef(inst, T.LOAN_PRINCIPAL, loan_id=loan.id)
        lines.append(
            Line(principal, -to_centavos(settlement.prepayment), None, Component.PRINCIPAL.value)
        )
    if settlement.advance:
        lines.append(Line(advance_account, -to_centavos(settlement.advance)))
    if settlement.suspense:
        # Nothing left to owe (or overpayment not allowed): held for a refund.
        lines.append(Line(AccountRef(inst, T.SUSPENSE), -to_centavos(settlement.suspense)))
    return lines


async def _close_if_settled(loan: Loan, settlement: Settlement, conn: BaseDBAsyncClient) -> bool:
    after = settlement.after
    if LoanStatus(loan.status) in OPEN_STATUSES and after and all(s.is_settled for s in after):
        await transition(loan, LoanStatus.PAID_OFF, None, conn)
        return True
    return False


async def apply_advances(
    loan: Loan, day: date, *, conn: BaseDBAsyncClient | None = None
) -> Decimal:
    """Apply pagos adelantados held in loan_advance to what falls due by ``day``; returns
    the amount applied (idempotent per loan and day)."""
    if conn is None:
        async with in_transaction() as tx:
            return await apply_advances(loan, day, conn=tx)
    locked = await Loan.select_for_update().using_db(conn).get(id=loan.id)
    if LoanStatus(locked.status) not in OPEN_STATUSES:
        return ZERO
    balances = (await loan_account_balances([loan.id], conn))[loan.id]
    held = from_centavos(balances.get(T.LOAN_ADVANCE, 0))
    if held <= 0:
        return ZERO
    contract = await load_contract(locked, conn)
    owed = sum((s.outstanding_total for s in contract.states if s.due_date <= day), ZERO)
    use = min(held, owed)
    if use <= 0:
        return ZERO
    allocation = allocate_payment(contract.states, use, day)
    applied = allocation.applied
    if applied <= 0:
        return ZERO
    await bill_reached(locked, {line.installment_number for line in allocation.lines}, conn)
    inst = locked.institution_id
    lines = [Line(AccountRef(inst, T.LOAN_ADVANCE, loan_id=loan.id), to_centavos(applied))]
    lines.extend(allocation_lines(inst, loan.id, allocation.lines))
    try:
        await post_entry(
            lines,
            kind=JournalKind.PAYMENT,
            effective_date=day,
            memo="pago adelantado aplicado",
            loan_id=loan.id,
            idempotency_key=f"advance:{loan.id}:{day.isoformat()}",
            conn=conn,
        )
    except AlreadyPosted:
        return ZERO
    after = allocation.installments
    if all(state.is_settled for state in after):
        await transition(locked, LoanStatus.PAID_OFF, None, conn)
    return applied
