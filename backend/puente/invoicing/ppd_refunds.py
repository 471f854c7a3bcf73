"""A payment of PPD ingresos given back after its Complemento de Pagos was stamped (service).

A refund or chargeback unwinds the payment in the ledger (``payments/refunds.py``): what it
paid of an installment is receivable again. So the PPD ingreso of the installment stays as
it is (what it billed is still owed, and the next payment's complement pays it again);
what is no longer true is the complement that said it was paid. SAT corrects a CFDI de pago
only by replacing it (Anexo 20 guide, Pagos 2.0: the only relation it takes is 04,
sustitución) or cancelling it:

* the refund took back all it paid of the PPD ingresos: the complement is cancelled with
  the institution's ``motivo_cancelacion_complemento`` (02 by default, UNCONFIRMED;
  ``payments_complement.complement_cancel_reason``), nothing replaces it;
* it took back part: a new complement for what is left paid (``paid_after_refund``, to the
  centavo of the ledger), related 04 to the old one, is stamped (row
  ``pago:<payment>:refund:<entry>``), then the old one is cancelled with motivo 01 naming it.

What the refund took back outside the PPD ingresos (moratorium interest, installments billed
before ``ppd_desde``: the PUE ingreso of the payment) follows the PUE rules in
``service._settle_refund``, which calls this first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from satcfdi.models import Signer

from puente.invoicing.cfdi import Issuer
from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.pac import CancelReason, Pac
from puente.invoicing.parts import cancel_invoice
from puente.invoicing.payments_complement import (
    PaidDocument,
    complement_cancel_reason,
    paid_after_refund,
)
from puente.invoicing.ppd import stamp_complement
from puente.payments.models import Payment
from puente.runtime import Runtime

__all__ = ["settle_complement_refund", "substitute_key"]


def substitute_key(payment_id: int, entry_id: int) -> str:
    """The outbox key of the complement that replaces a payment's after refund ``entry_id``."""
    return f"pago:{payment_id}:refund:{entry_id}"


async def _stamped_complement(payment_id: int) -> Invoice | None:
    """The payment's complement in force (the last one stamped and not cancelled)."""
    return (
        await Invoice.filter(
            payment_id=payment_id, kind=InvoiceKind.PAGO, status=InvoiceStatus.STAMPED
        )
        .order_by("-id")
        .first()
    )


async def _paid_documents(complement: Invoice, series: str) -> list[PaidDocument]:
    items = complement.documents or []
    folios = dict(
        await Invoice.filter(id__in=[int(item["invoice"]) for item in items]).values_list(
            "id", "folio"
        )
    )
    return [
        PaidDocument.from_dict(item, series, str(folios.get(int(item["invoice"]), "")))
        for item in items
    ]


async def settle_complement_refund(
    runtime: Runtime,
    pac: Pac,
    refund_row: Invoice,
    payment: Payment,
    given_back: Sequence[PaidDocument],
    signer: Signer,
    issuer: Issuer,
    now: datetime,
) -> str:
    """Replace or cancel the payment's complement for what refund ``refund_row`` took back of
    its PPD ingresos (``given_back``, from ``ppd.ppd_split``); returns what was done (Spanish,
    empty when the complement needed nothing). Safe to run again after a PAC outage."""
    if not given_back:
        return ""
    entry_id = int(refund_row.key.split(":")[1])
    replacement = await Invoice.filter(key=substitute_key(payment.id, entry_id)).first()
    if replacement is not None:  # stamped on an earlier attempt: finish the swap
        replaced = await Invoice.get(id=replacement.related_id)
        if InvoiceStatus(replaced.status) is InvoiceStatus.STAMPED:
            await cancel_invoice(
                runtime,
                pac,
                replaced,
                CancelReason.WITH_ERRORS_RELATED,
                substitute_uuid=replacement.uuid,
                now=now,
            )
        return f"Complemento sustituido por {replacement.uuid} (01)."
    complement = await _stamped_complement(payment.id)
    if complement is None:
        return "Sin complemento de pago vigente."
    left = paid_after_refund(await _paid_documents(complement, issuer.series), given_back)
    if not left:
        reason = CancelReason(complement_cancel_reason(payment.institution.settings))
        await cancel_invoice(runtime, pac, complement, reason, now=now)
        return f"Se canceló el complemento de pago ({reason.value})."
    replacement = Invoice(
        institution_id=payment.institution_id,
        payment_id=payment.id,
        loan_id=payment.loan_id,
        key=substitute_key(payment.id, entry_id),
        kind=InvoiceKind.PAGO,
        folio=f"{refund_row.id}S",
        related_id=complement.id,
    )
    # Created only once the PAC stamped it (``stamp`` saves it): the outbox never holds a
    # pending replacement that the PAGO path would take for a payment's first complement.
    await stamp_complement(
        runtime, pac, replacement, payment, left, signer, issuer, now, replaces=complement.uuid
    )
    await cancel_invoice(
        runtime,
        pac,
        complement,
        CancelReason.WITH_ERRORS_RELATED,
        substitute_uuid=replacement.uuid,
        now=now,
    )
    return f"Complemento sustituido por {replacement.uuid} (01)."
