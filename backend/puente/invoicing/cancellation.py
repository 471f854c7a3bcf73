"""Staff cancel a CFDI at SAT (service): who may, with which motivo, and the audit line.

The money paths cancel on their own (a payment refunded in full: motivo 03, in
``service._settle_refund``; a Complemento de Pagos given back: 02/03, or 01 once replaced,
in ``ppd_refunds.py``); this is the person's door, for a CFDI issued with errors or
one already covered by a global invoice. SAT's rules (Anexo 20, RMF 2.7.1.47): motivo 01
(errors *with* relation) needs the folio fiscal of the CFDI that replaces it, which must be
a stamped CFDI of the same issuer; 02–04 take no substitute. Only staff or an admin of the
issuing institution may cancel; anyone else is told the CFDI does not exist.
"""

from __future__ import annotations

import re
from datetime import datetime

from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.audit.service import record_audit
from puente.enums import Role
from puente.invoicing.models import Invoice, InvoiceStatus
from puente.invoicing.pac import CancelReason, Pac, PacError
from puente.invoicing.service import cancel_invoice
from puente.runtime import Runtime

__all__ = ["CancellationRefused", "cancel_cfdi"]

_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


class CancellationRefused(ValueError):
    """Why a cancellation was not asked of SAT: a code and a Spanish message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _motivo(value: str) -> CancelReason:
    try:
        return CancelReason(value.strip())
    except ValueError:
        raise CancellationRefused(
            "INVALID_REASON", "El motivo de cancelación debe ser 01, 02, 03 o 04."
        ) from None


async def _substitute(invoice: Invoice, reason: CancelReason, value: str | None) -> str | None:
    folio = (value or "").strip().upper() or None
    if reason is not CancelReason.WITH_ERRORS_RELATED:
        if folio:
            raise CancellationRefused(
                "SUBSTITUTE_NOT_ALLOWED", "Solo el motivo 01 lleva folio de sustitución."
            )
        return None
    if folio is None:
        raise CancellationRefused(
            "SUBSTITUTE_REQUIRED", "El motivo 01 requiere el folio fiscal que sustituye al CFDI."
        )
    if not _UUID.match(folio) or folio == invoice.uuid:
        raise CancellationRefused("INVALID_SUBSTITUTE", "El folio de sustitución no es válido.")
    replacing = await Invoice.filter(
        uuid=folio, institution_id=invoice.institution_id, status=InvoiceStatus.STAMPED
    ).exists()
    if not replacing:
        raise CancellationRefused(
            "INVALID_SUBSTITUTE", "El folio de sustitución no es un CFDI vigente de la institución."
        )
    return folio


async def cancel_cfdi(
    runtime: Runtime,
    pac: Pac,
    actor: User,
    uuid: str,
    motivo: str,
    substitute_uuid: str | None = None,
    *,
    now: datetime | None = None,
) -> Invoice:
    """Cancel the institution's CFDI ``uuid`` at SAT through the PAC, audited."""
    folio = (uuid or "").strip().upper()
    invoice = await Invoice.filter(uuid=folio).first() if folio else None
    staff = Role(actor.role) in (Role.STAFF, Role.ADMIN)
    if invoice is None or not staff or actor.institution_id != invoice.institution_id:
        raise CancellationRefused("INVOICE_NOT_FOUND", "El CFDI no existe.")
    reason = _motivo(motivo)
    if InvoiceStatus(invoice.status) is not InvoiceStatus.STAMPED:
        raise CancellationRefused("NOT_CANCELLABLE", "Solo se puede cancelar un CFDI vigente.")
    substitute = await _substitute(invoice, reason, substitute_uuid)
    try:
        await cancel_invoice(runtime, pac, invoice, reason, substitute_uuid=substitute, now=now)
    except PacError as exc:
        raise CancellationRefused("PAC_ERROR", f"El PAC no canceló el CFDI: {exc.message}") from exc
    async with in_transaction() as tx:
        await record_audit(
            "cfdi.canceled",
            actor_id=actor.id,
            institution_id=invoice.institution_id,
            subject_type="invoice",
            subject_id=invoice.id,
            data={"uuid": invoice.uuid, "motivo": reason.value, "sustituto": substitute},
            conn=tx,
        )
    return invoice
