"""What collections tells a borrower (mandates, scheduled charges), as notices.

Registered with ``collections.notices`` when this package is imported. A declined scheduled
charge is told here, with the retry plan, instead of the generic decline notice of
``payment_notices`` (which skips those payments): one message per decline, the right one.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from puente.collections.notices import BorrowerNotice
from puente.loans.models import Loan
from puente.notifications.payment_notices import loan_name, send_mandate_confirmation
from puente.notifications.service import send_notice
from puente.runtime import Runtime

__all__ = ["send_collection_notice", "what_to_do"]


def what_to_do(kind: str, retry_on: date | None) -> str:
    """The borrower's next step after a scheduled charge did not go through."""
    if kind == "charge_declined" and retry_on is not None:
        return (
            f"Volveremos a intentar el cargo el {retry_on.day:02d}/{retry_on.month:02d}/"
            f"{retry_on.year}; ten fondos en tu tarjeta ese día, o paga antes desde el portal."
        )
    if kind == "needs_another_method":
        return (
            "Tu tarjeta ya no puede cargarse: guarda otra tarjeta en el portal para seguir con "
            "la domiciliación, o paga desde el portal."
        )
    return "Ya no haremos más intentos automáticos para este pago: paga desde el portal."


async def send_collection_notice(runtime: Runtime, notice: BorrowerNotice) -> None:
    loan = await Loan.get(id=notice.loan_id).prefetch_related("product")
    facts = notice.context
    if notice.kind == "mandate_confirmed":
        await send_mandate_confirmation(
            runtime,
            mandate_id=facts["mandate_id"],
            loan=loan,
            card=facts["card"],
            text_version=facts["text_version"],
            accepted_at=facts["accepted_at"],
            until=facts["valid_until"],
        )
        return
    context: dict[str, Any] = {"credito": loan_name(loan), "credito_id": loan.id}
    if notice.kind == "mandate_revoked":
        kind = "mandate_revoked"
        context |= {"cancelado": facts["revoked_at"]}
    else:
        kind = "payment_declined"
        context |= {
            "monto": facts["amount"],
            "motivo": facts["reason"],
            "que_hacer": what_to_do(notice.kind, facts.get("retry_on")),
        }
    await send_notice(
        runtime,
        kind=kind,
        user_id=notice.user_id,
        loan_id=notice.loan_id,
        payment_id=notice.payment_id,
        context=context,
        dedupe_key=notice.dedupe_key,
    )
