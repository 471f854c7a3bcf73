"""Moving a payment through its states, and what each move does to the books.

Every source of truth about a payment (the connector's answer to our request, a webhook,
the poller) ends here. The state change and its ledger effect commit in one transaction,
under a lock on the payment row, so twenty copies of the same event apply it once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.ledger.posting import AlreadyPosted, reverse_entry
from puente.loans.models import Loan
from puente.loans.service import apply_payment
from puente.money import from_centavos, to_centavos
from puente.payments.lifecycle import AMOUNT_MISMATCH, can_transition, paid_amount_mismatch
from puente.payments.models import Payment
from puente.payments.refunds import post_partial_refund
from puente.runtime import MEXICO_CITY

__all__ = ["Transition", "advance_payment"]

logger = logging.getLogger("puente.payments")


@dataclass(frozen=True, slots=True)
class Transition:
    """What happened when a status was proposed for a payment."""

    payment_id: int
    loan_id: int
    before: S
    after: S
    applied: bool  # False: not a forward move (recorded and ignored)
    exception: str | None = None  # e.g. AMOUNT_MISMATCH: not applied, left for staff


async def _payment_entry(payment: Payment, conn: BaseDBAsyncClient) -> JournalEntry | None:
    return (
        await JournalEntry.filter(payment_id=payment.id, kind=JournalKind.PAYMENT)
        .using_db(conn)
        .first()
    )


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
    next_action: dict | None = None,
    reported_amount: Decimal | None = None,
) -> Transition:
    """Propose ``proposed`` for a payment; apply it only if it moves forward.

    ``reported_amount`` is what the source says was paid; a PAID for another amount is
    audited as ``payment.amount_mismatch`` and not applied (``Transition.exception``).
    """
    async with in_transaction() as tx:
        payment = await Payment.select_for_update().using_db(tx).get(id=payment_id)
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
                    "reported": str(from_centavos(reported)),
                    "proposed": proposed.value,
                    "source": source,
                },
                conn=tx,
            )
            logger.warning("payment %s: PAID for another amount (%s)", payment.id, source)
            return Transition(payment.id, payment.loan_id, before, before, False, AMOUNT_MISMATCH)
        if provider_reference and not payment.provider_reference:
            # Kept even when the move is ignored: webhooks find payments by this reference.
            payment.provider_reference = provider_reference
            await payment.save(using_db=tx, update_fields=["provider_reference", "updated_at"])
        refund_step = (
            proposed in (S.PARTIALLY_REFUNDED, S.REFUNDED)
            and refunded is not None
            and to_centavos(refunded) > payment.refunded_centavos
        )
        if not can_transition(before, proposed) and not (
            refund_step and before is S.PARTIALLY_REFUNDED and proposed is S.REFUNDED
        ):
            if proposed is not before:
                await record_audit(
                    "payment.transition_ignored",
                    institution_id=payment.institution_id,
                    subject_type="payment",
                    subject_id=payment.id,
                    data={"from": before.value, "proposed": proposed.value, "source": source},
                    conn=tx,
                )
            elif proposed is S.PARTIALLY_REFUNDED and refund_step:
                await _refund(payment, refunded, at, tx)  # another partial refund
                await payment.save(using_db=tx)
                return Transition(payment.id, payment.loan_id, before, proposed, True)
            return Transition(payment.id, payment.loan_id, before, before, False)

        payment.status = proposed
        if failure_code:
            payment.failure_code = failure_code[:64]
            payment.failure_message = (failure_message or "")[:500]
        if next_action is not None:
            payment.next_action = next_action
        if proposed is S.PAID:
            payment.paid_at = at
            loan = await Loan.get(id=payment.loan_id).using_db(tx)
            await apply_payment(
                loan,
                from_centavos(payment.amount_centavos),
                received_on=at.astimezone(MEXICO_CITY).date(),
                provider=ProviderName(payment.provider),
                payment_id=payment.id,
                idempotency_key=f"payment-{payment.id}",
                conn=tx,
            )
        elif proposed in (S.PARTIALLY_REFUNDED, S.REFUNDED):
            amount = refunded if refunded is not None else from_centavos(payment.amount_centavos)
            await _refund(payment, amount, at, tx)
        elif proposed is S.CHARGED_BACK:
            entry = await _payment_entry(payment, tx)
            if entry is not None:
                try:
                    await reverse_entry(
                        entry,
                        kind=JournalKind.CHARGEBACK,
                        effective_date=at.astimezone(MEXICO_CITY).date(),
                        memo=f"chargeback of payment {payment.id}",
                        conn=tx,
                    )
                except AlreadyPosted:
                    pass
        await payment.save(using_db=tx)
        await record_audit(
            "payment.status_changed",
            institution_id=payment.institution_id,
            subject_type="payment",
            subject_id=payment.id,
            data={"from": before.value, "to": proposed.value, "source": source},
            conn=tx,
        )
    return Transition(payment.id, payment.loan_id, before, proposed, True)


async def _refund(payment: Payment, total_refunded: Decimal, at: datetime, conn) -> None:
    """Post what is newly refunded (``total_refunded`` is cumulative, as providers report)."""
    new_total = min(to_centavos(total_refunded), payment.amount_centavos)
    delta = new_total - payment.refunded_centavos
    if delta <= 0:
        return
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
