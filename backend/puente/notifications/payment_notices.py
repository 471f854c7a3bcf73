"""Notices about paying: instructions (SPEI/OXXO), receipt, decline, mandate confirmation.

Registered with ``payments.observers``; the observer only schedules the work, which reads
the committed payment and calls ``send_notice`` with a dedupe key per payment and event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from puente.collections.notices import is_scheduled_charge_key
from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.loans.models import Loan
from puente.money import from_centavos
from puente.notifications.service import send_notice, spawn
from puente.payments.failure_messages import failure_advice
from puente.payments.lifecycle_service import Transition
from puente.payments.models import Payment
from puente.runtime import Runtime
from puente.statements.data import clave_rastreo_of

__all__ = [
    "loan_name",
    "notice_for_payment",
    "on_payment_transition",
    "send_mandate_confirmation",
]

INSTRUCTION_STATUSES = frozenset({S.PENDING, S.REQUIRES_ACTION})


def loan_name(loan: Loan) -> str:
    """How a notice names a loan: its product and number."""
    return f"{loan.product.name} #{loan.id}"


def on_payment_transition(runtime: Runtime, transition: Transition) -> None:
    """Observer: schedule the notice a committed transition calls for (never blocks)."""
    if not transition.applied or transition.exception:
        return
    if transition.after in INSTRUCTION_STATUSES | {S.PAID, S.FAILED}:
        spawn(notice_for_payment(runtime, transition.payment_id))


async def notice_for_payment(runtime: Runtime, payment_id: int) -> None:
    """Send the notice the payment's current status calls for (once per payment and event)."""
    payment = await Payment.get_or_none(id=payment_id).prefetch_related("loan__product")
    if payment is None:
        return
    status, method = S(payment.status), PaymentMethodType(payment.method)
    loan: Loan = payment.loan
    context: dict[str, Any] = {
        "monto": from_centavos(payment.amount_centavos),
        "credito": loan_name(loan),
        "credito_id": loan.id,
        "pago_id": payment.id,
    }
    if status in INSTRUCTION_STATUSES:
        action = payment.next_action or {}
        if method not in (PaymentMethodType.SPEI, PaymentMethodType.CASH):
            return
        if not (action.get("clabe") or action.get("reference")):
            return
        kind, event = "payment_instructions", "instructions"
        context |= {
            "metodo": "SPEI" if method is PaymentMethodType.SPEI else "OXXO",
            "clabe": action.get("clabe") or "",
            "banco": action.get("bank") or "",
            "referencia": action.get("reference") or "",
            "vence": payment.expires_at,
        }
    elif status is S.PAID:
        kind, event = "receipt", "receipt"
        context |= {
            "pagado": payment.paid_at or runtime.now(),
            "referencia": payment.provider_reference or "",
            "clave_rastreo": await clave_rastreo_of(payment),
        }
    elif status is S.FAILED:
        if is_scheduled_charge_key(payment.idempotency_key):
            return  # collections tells the borrower, with the retry plan (collection_notices)
        motivo, que_hacer = failure_advice(payment.provider_failure_code, payment.failure_code)
        kind, event = "payment_declined", "declined"
        context |= {"motivo": motivo, "que_hacer": que_hacer}
    else:
        return
    await send_notice(
        runtime,
        kind=kind,
        user_id=payment.user_id,
        loan_id=loan.id,
        payment_id=payment.id,
        context=context,
        dedupe_key=f"payment:{payment.id}:{event}",
    )


async def send_mandate_confirmation(
    runtime: Runtime,
    *,
    mandate_id: int,
    loan: Loan,
    card: str,
    text_version: str,
    accepted_at: datetime,
    until: date | None = None,
) -> None:
    """Confirm a domiciliación mandate to its borrower (once per mandate)."""
    await loan.fetch_related("product")
    await send_notice(
        runtime,
        kind="mandate_confirmation",
        user_id=loan.borrower_id,
        loan_id=loan.id,
        context={
            "credito": loan_name(loan),
            "credito_id": loan.id,
            "tarjeta": card,
            "version": text_version,
            "aceptado": accepted_at,
            "hasta": until,
        },
        dedupe_key=f"mandate:{mandate_id}:confirmation",
    )
