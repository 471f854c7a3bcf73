"""What the receipt says about a payment's CFDI and its SPEI's CEP (Spanish)."""

from __future__ import annotations

from typing import Any

from puente.cep.models import CepCheck, CepStatus
from puente.invoicing.models import InvoiceKind
from puente.invoicing.service import payment_documents, payment_invoice

__all__ = ["CEP_TEXT", "fiscal_context"]

CEP_TEXT = {
    CepStatus.PENDING: "En consulta con Banxico (se vuelve a consultar)",
    CepStatus.VALIDATED: "Validado: Banxico confirma la transferencia",
    CepStatus.NOT_FOUND: "Banxico aún no lo publica; lo revisa el equipo",
    CepStatus.NO_DATA: "Sin clave de rastreo para consultarlo",
}


DOCUMENT_TEXT = {
    InvoiceKind.INGRESO: "Factura (CFDI)",
    InvoiceKind.PAGO: "Complemento de pago",
    InvoiceKind.EGRESO: "Nota de crédito",
}


async def fiscal_context(payment_id: int) -> dict[str, Any]:
    """``invoice`` (the stamped CFDI or None), ``other_documents`` (the rest stamped for the
    payment: complements, replacements, credit notes, each with ``label``) and ``cep`` (its
    state in words, or None)."""
    check = await CepCheck.filter(payment_id=payment_id).first()
    invoice = await payment_invoice(payment_id)
    others = [
        {"label": DOCUMENT_TEXT[InvoiceKind(row.kind)], "uuid": row.uuid, "status": row.status}
        for row in await payment_documents(payment_id)
        if invoice is None or row.id != invoice.id
    ]
    return {
        "invoice": invoice,
        "other_documents": others,
        "cep": CEP_TEXT[CepStatus(check.status)] if check else None,
    }
