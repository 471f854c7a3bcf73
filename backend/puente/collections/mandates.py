"""Domiciliación mandates: sign, revoke, and stop them when their card can no longer pay.

A mandate is the borrower's explicit consent, in a versioned text they were shown, to
charge one loan's amount due on each due date to one saved card until a date. Signing
and revoking are audited with where they came from (IP and browser, or ``graphql``).
Revoking cancels every scheduled attempt in the same transaction: nothing is charged
after it, and the charge job checks the mandate again just before each charge.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.collections.errors import CollectionRefused
from puente.collections.models import AttemptStatus, ChargeAttempt, Mandate, MandateStatus
from puente.collections.notices import tell_borrower
from puente.loans.models import Installment, Loan
from puente.loans.payable import may_take_payments
from puente.payments.models import PaymentMethod
from puente.runtime import Runtime

__all__ = [
    "MANDATE_TEXT",
    "MANDATE_TEXT_VERSION",
    "active_mandate",
    "default_valid_until",
    "mandate_text",
    "revoke_mandate",
    "sign_mandate",
    "stop_mandates_of_card",
]

MANDATE_TEXT_VERSION = "domiciliacion-2026-12"
MANDATE_TEXT = (
    "Autorizo a {institucion} a cargar a mi tarjeta {tarjeta} el monto exigible de mi "
    "crédito {credito} en cada fecha de pago, sin exceder lo que liquida el crédito ese día, "
    "hasta el {hasta}. Si un cargo es rechazado por fondos insuficientes, podrá reintentarse "
    "en los siguientes días de pago de quincena. Puedo cancelar esta domiciliación en "
    "cualquier momento desde el portal; la cancelación surte efecto de inmediato."
)


def mandate_text(institution: str, card: str, loan_id: int, until: date) -> str:
    """The exact text the borrower accepts (its version is ``MANDATE_TEXT_VERSION``)."""
    return MANDATE_TEXT.format(
        institucion=institution, tarjeta=card, credito=f"#{loan_id}", hasta=until.isoformat()
    )


async def active_mandate(loan_id: int, conn: BaseDBAsyncClient | None = None) -> Mandate | None:
    """The loan's mandate in force (at most one), or None."""
    return (
        await Mandate.filter(loan_id=loan_id, status=MandateStatus.ACTIVE)
        .using_db(conn)
        .order_by("-id")
        .first()
    )


async def default_valid_until(loan_id: int) -> date | None:
    """Until when a mandate runs by default: the loan's last due date."""
    last = (
        await Installment.filter(loan_id=loan_id, superseded_on__isnull=True)
        .order_by("-due_date")
        .first()
    )
    return last.due_date if last else None


async def _loan_of(user: User, loan_id: int) -> Loan:
    loan = await Loan.filter(id=loan_id).first()
    # Only the borrower consents to charges on their own card: staff cannot sign for them.
    if loan is None or loan.borrower_id != user.id or loan.institution_id != user.institution_id:
        raise CollectionRefused("LOAN_NOT_FOUND", "El crédito no existe.", "loanId")
    return loan


async def sign_mandate(
    runtime: Runtime,
    user: User,
    loan_id: int,
    payment_method_id: int,
    *,
    origin: str,
    valid_until: date | None = None,
) -> Mandate:
    """Sign (or re-sign with another card) the loan's domiciliación."""
    now = runtime.now()
    loan = await _loan_of(user, loan_id)
    if not may_take_payments(loan.status):
        raise CollectionRefused("LOAN_NOT_PAYABLE", "Este crédito no admite pagos.", "loanId")
    card = await PaymentMethod.filter(id=payment_method_id, user_id=user.id, is_active=True).first()
    if card is None or card.provider_token is None:
        raise CollectionRefused(
            "PAYMENT_METHOD_NOT_FOUND", "Esa tarjeta guardada no existe.", "paymentMethodId"
        )
    until = valid_until or await default_valid_until(loan.id) or now.date()
    if until < now.date():
        raise CollectionRefused("INVALID_DATE", "La fecha de vigencia ya pasó.", "validUntil")
    institution = await loan.institution
    text = mandate_text(institution.name, card.label, loan.id, until)
    async with in_transaction() as tx:
        previous = await active_mandate(loan.id, tx)
        if previous is not None:
            await _end(previous, MandateStatus.REVOKED, f"replaced:{origin}", now, tx)
        mandate = await Mandate.create(
            institution_id=loan.institution_id,
            loan_id=loan.id,
            user_id=user.id,
            payment_method_id=card.id,
            text_version=MANDATE_TEXT_VERSION,
            text_sha256=hashlib.sha256(text.encode()).hexdigest(),
            valid_until=until,
            signed_at=now,
            signed_origin=origin[:300],
            using_db=tx,
        )
        await record_audit(
            "mandate.signed",
            actor_id=user.id,
            institution_id=loan.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={
                "mandate": mandate.id,
                "card": card.id,
                "text_version": MANDATE_TEXT_VERSION,
                "text_sha256": mandate.text_sha256,
                "valid_until": until.isoformat(),
                "origin": origin[:300],
            },
            conn=tx,
            now=now,
        )
    await tell_borrower(
        runtime,
        "mandate_confirmed",
        user_id=user.id,
        loan_id=loan.id,
        dedupe_key=f"mandate:{mandate.id}:confirmed",
        context={
            "mandate_id": mandate.id,
            "card": card.label,
            "valid_until": until,
            "text_version": MANDATE_TEXT_VERSION,
            "accepted_at": now,
        },
    )
    return mandate


async def revoke_mandate(runtime: Runtime, user: User, loan_id: int, *, origin: str) -> bool:
    """Revoke the loan's domiciliación now; False when there was none in force."""
    now = runtime.now()
    loan = await _loan_of(user, loan_id)
    async with in_transaction() as tx:
        mandate = await active_mandate(loan.id, tx)
        if mandate is None:
            mandate = (
                await Mandate.filter(loan_id=loan.id, status=MandateStatus.NEEDS_METHOD)
                .using_db(tx)
                .order_by("-id")
                .first()
            )
        if mandate is None:
            return False
        await _end(mandate, MandateStatus.REVOKED, origin, now, tx)
        await record_audit(
            "mandate.revoked",
            actor_id=user.id,
            institution_id=loan.institution_id,
            subject_type="loan",
            subject_id=loan.id,
            data={"mandate": mandate.id, "origin": origin[:300]},
            conn=tx,
            now=now,
        )
    await tell_borrower(
        runtime,
        "mandate_revoked",
        user_id=user.id,
        loan_id=loan.id,
        dedupe_key=f"mandate:{mandate.id}:revoked",
        context={"revoked_at": now},
    )
    return True


async def _end(
    mandate: Mandate, status: MandateStatus, origin: str, now: datetime, tx: BaseDBAsyncClient
) -> None:
    """End a mandate and cancel its scheduled attempts, in the caller's transaction."""
    await (
        Mandate.filter(id=mandate.id)
        .using_db(tx)
        .update(status=status, revoked_at=now, revoked_origin=origin[:300])
    )
    await (
        ChargeAttempt.filter(mandate_id=mandate.id, status=AttemptStatus.SCHEDULED)
        .using_db(tx)
        .update(status=AttemptStatus.CANCELED, detail="Domiciliación cancelada.")
    )


async def stop_mandates_of_card(
    payment_method_id: int, status: MandateStatus, origin: str, tx: BaseDBAsyncClient
) -> int:
    """Stop every mandate in force on a card (deleted, or refused for good)."""
    stopped = 0
    for mandate in await Mandate.filter(
        payment_method_id=payment_method_id, status=MandateStatus.ACTIVE
    ).using_db(tx):
        await Mandate.filter(id=mandate.id).using_db(tx).update(status=status)
        await (
            ChargeAttempt.filter(mandate_id=mandate.id, status=AttemptStatus.SCHEDULED)
            .using_db(tx)
            .update(status=AttemptStatus.CANCELED, detail=_STOPPED[origin])
        )
        stopped += 1
    return stopped


_STOPPED = {
    "card-deleted": "La tarjeta fue eliminada.",
    "needs-method": "La tarjeta no puede cobrarse; se necesita otro método.",
}
