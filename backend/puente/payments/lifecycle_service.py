"""Moving a payment through its states, and what each move does to the books.

Every source of truth about a payment (the connector's answer to our request, a webhook,
the poller) ends here. The state change and its ledger effect commit in one transaction,
under a lock on the payment row, so twenty copies of the same event apply it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.ledger.posting import AlreadyPosted, reverse_entry
from puente.loans.application import apply_payment
from puente.loans.contract import LoanReads
from puente.loans.engine import OverpaymentMode
from puente.loans.models import Loan, LoanProduct
from puente.money import from_centavos, to_centavos
from puente.payments.lifecycle import (
    AMOUNT_MISMATCH,
    can_transition,
    next_state,
    paid_amount_mismatch,
)
from puente.payments.models import Payment
from puente.payments.refunds import post_partial_refund
from puente.runtime import MEXICO_CITY

__all__ = [
    "LockedRows",
    "Transition",
    "advance_payment",
    "prepayment_mode_of",
    "record_provider_reference",
]

logger = logging.getLogger("puente.payments")


@dataclass(frozen=True, slots=True)
class LockedRows:
    """A transaction and the rows it holds locked, passed down instead of read again: the
    payments (by id) and, when the caller locked it, their loan and its product; ``reads``:
    what the caller read of the loans under the lock, by loan id, taken by the first move
    of a payment of that loan (stale after its writes)."""

    conn: BaseDBAsyncClient
    payments: dict[int, Payment]
    loan: Loan | None = None
    product: LoanProduct | None = None
    reads: dict[int, LoanReads] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Transition:
    """What happened when a status was proposed for a payment."""

    payment_id: int
    loan_id: int
    before: S
    after: S
    applied: bool  # False: not a forward move (recorded and ignored)
    exception: str | None = None  # e.g. AMOUNT_MISMATCH: not applied, left for staff
    institution_id: int | None = None  # whose dashboards hear of it (institution channel)


async def _payment_entry(payment: Payment, conn: BaseDBAsyncClient) -> JournalEntry | None:
    return (
        await JournalEntry.filter(payment_id=payment.id, kind=JournalKind.PAYMENT)
        .using_db(conn)
        .first()
    )


async def record_provider_reference(payment_id: int, reference: str) -> bool:
    """Give a payment the provider's id if it has none yet (it never changes once set)."""
    if not reference:
        return False
    updated = await Payment.filter(id=payment_id, provider_reference__isnull=True).update(
        provider_reference=reference
    )
    return updated == 1


async def advance_payment(
    payment_id: int,
    proposed: S,
    *,
    source: str,
    at: datetime,
    provider_reference: str | None = None,
    refunded: Decimal | None = None,
    failure_code: str | None = None,
    failure_message: str | None = None,
    next_action: dict[str, Any] | None = None,
    reported_amount: Decimal | None = None,
    locked: LockedRows | None = None,
) -> Transition:
    """Propose ``proposed`` for a payment; apply it only if it moves forward.

    ``refunded`` is the cumulative amount the provider says it gave back. What the proposal
    does is ``lifecycle.next_state``'s decision; this function applies it with its ledger
    effect (PAID applies the money, a refund unwinds it, a chargeback reverses it).
    ``reported_amount`` is what the source says was paid; a PAID for another amount is
    audited as ``payment.amount_mismatch`` and not applied (``Transition.exception``).
    ``locked``: the caller's transaction, holding the payment (and its loan) locked; else
    this call opens its own.
    """
    if locked is None:
        async with in_transaction() as tx:
            payment = await Payment.select_for_update().using_db(tx).get(id=payment_id)
            return await advance_payment(
                payment_id,
                proposed,
                source=source,
                at=at,
                provider_reference=provider_reference,
                refunded=refunded,
                failure_code=failure_code,
                failure_message=failure_message,
                next_action=next_action,
                reported_amount=reported_amount,
                locked=LockedRows(tx, {payment.id: payment}),
            )
    conn = locked.conn
    payment = locked.payments[payment_id]
    before = S(payment.status)
    reported = to_centavos(reported_amount) if reported_amount is not None else None
    if can_transition(before, proposed) and paid_amount_mismatch(
        proposed, payment.amount_centavos, reported
    ):
        await record_audit(
            "payment.amount_mismatch",
            institution_id=payment.institution_id,
            subject_type="payment",
            subject_id=payment.id,
            data={
                "expected": str(from_centavos(payment.amount_centavos)),
                "reported": str(from_centavos(reported or 0)),
                "proposed": proposed.value,
                "source": source,
            },
            conn=conn,
        )
        logger.warning("payment %s: PAID for another amount (%s)", payment.id, source)
        return Transition(
            payment.id,
            payment.loan_id,
            before,
            before,
            False,
            AMOUNT_MISMATCH,
            payment.institution_id,
        )
    if provider_reference and not payment.provider_reference:
        # Kept even when the move is ignored: webhooks find payments by this reference.
        payment.provider_reference = provider_reference
        await payment.save(using_db=conn, update_fields=["provider_reference", "updated_at"])
    move = next_state(
        before,
        proposed,
        amount_centavos=payment.amount_centavos,
        refunded_centavos=payment.refunded_centavos,
        reported_refund=to_centavos(refunded) if refunded is not None else None,
    )
    if move is None:
        if proposed is not before:
            await record_audit(
                "payment.transition_ignored",
                institution_id=payment.institution_id,
                subject_type="payment",
                subject_id=payment.id,
                data={"from": before.value, "proposed": proposed.value, "source": source},
                conn=conn,
            )
        return Transition(
            payment.id, payment.loan_id, before, before, False, None, payment.institution_id
        )
    proposed = move.status
    # What the caller read of the loan is right only before this move's first write.
    reads = locked.reads.pop(payment.loan_id, None)
    if move.refunded_centavos > payment.refunded_centavos:
        await _refund(payment, move.refunded_centavos, at, conn)
    payment.status = proposed
    if failure_code:
        payment.failure_code = failure_code[:64]
        payment.failure_message = (failure_message or "")[:500]
    if next_action is not None:
        payment.next_action = next_action
    if proposed is S.PAID:
        payment.paid_at = at
        await _apply(payment, at, source, locked, reads)
    elif proposed is S.CHARGED_BACK:
        await _charge_back(payment, at, conn)
    await payment.save(using_db=conn)
    await record_audit(
        "payment.status_changed",
        institution_id=payment.institution_id,
        subject_type="payment",
        subject_id=payment.id,
        data={"from": before.value, "to": proposed.value, "source": source},
        conn=conn,
    )
    return Transition(
        payment.id, payment.loan_id, before, proposed, True, None, payment.institution_id
    )


def prepayment_mode_of(payment: Payment) -> OverpaymentMode | None:
    """The mode stored on the payment; None (older payments): the loan's standing choice."""
    mode = payment.prepayment_mode
    if mode is None or mode not in OverpaymentMode._value2member_map_:
        return None
    return OverpaymentMode(mode)


async def _apply(
    payment: Payment, at: datetime, source: str, locked: LockedRows, reads: LoanReads | None
) -> None:
    """The PAID move's ledger effect: the money applied to the loan by prelación, once."""
    conn = locked.conn
    loan = locked.loan
    if loan is None or loan.id != payment.loan_id:
        # Locked here, once: apply_payment serialises a loan's payments on this lock.
        loan = await Loan.select_for_update().using_db(conn).get(id=payment.loan_id)
    await apply_payment(
        loan,
        from_centavos(payment.amount_centavos),
        received_on=at.astimezone(MEXICO_CITY).date(),
        provider=str(payment.provider),
        payment_id=payment.id,
        idempotency_key=f"payment-{payment.id}",
        # What the payer chose (or the loan's standing choice when they made it).
        overpayment=prepayment_mode_of(payment),
        source=source,
        conn=conn,
        loan_locked=True,
        product=locked.product if locked.loan is loan else None,
        reads=reads if locked.loan is loan else None,
    )


async def _charge_back(payment: Payment, at: datetime, conn: BaseDBAsyncClient) -> None:
    """The exact reversal of the payment entry, or of what refunds left of it."""
    entry = await _payment_entry(payment, conn)
    if entry is None:
        return
    if payment.refunded_centavos:
        # Part already went back as a refund: the bank takes back only the rest.
        await post_partial_refund(
            entry,
            already_refunded=payment.refunded_centavos,
            amount=payment.amount_centavos - payment.refunded_centavos,
            effective_date=at.astimezone(MEXICO_CITY).date(),
            kind=JournalKind.CHARGEBACK,
            conn=conn,
        )
        return
    try:
        await reverse_entry(
            entry,
            kind=JournalKind.CHARGEBACK,
            effective_date=at.astimezone(MEXICO_CITY).date(),
            memo=f"chargeback of payment {payment.id}",
            conn=conn,
        )
    except AlreadyPosted:
        pass


async def _refund(payment: Payment, new_total: int, at: datetime, conn: BaseDBAsyncClient) -> None:
    """Post what is newly refunded (``new_total`` centavos is cumulative, as providers say)."""
    delta = new_total - payment.refunded_centavos
    entry = await _payment_entry(payment, conn)
    if entry is not None:
        await post_partial_refund(
            entry,
            already_refunded=payment.refunded_centavos,
            amount=delta,
            effective_date=at.astimezone(MEXICO_CITY).date(),
            conn=conn,
        )
    payment.refunded_centavos = new_total
