"""GraphQL of a payment's fiscal documents: its CFDI (``Invoice``) and its SPEI's CEP (``Cep``).

``Payment.invoice`` and ``Payment.cep`` resolve through here; the payment itself was already
authorised by whoever returned it. Document URLs are absolute and served by
``portal/fiscal.py`` behind ``PortalGate.downloadable`` (cookie or Bearer, 404 otherwise).
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from puente.cep.models import CepCheck, CepStatus
from puente.graphql.values import decode_global_id
from puente.invoicing.models import Invoice as InvoiceModel
from puente.invoicing.models import InvoiceKind, InvoiceStatus
from puente.invoicing.service import payment_documents, payment_invoice

__all__ = ["Cep", "Invoice", "resolve_cep", "resolve_fiscal_documents", "resolve_invoice"]

_TIPO = {InvoiceKind.INGRESO: "I", InvoiceKind.EGRESO: "E", InvoiceKind.PAGO: "P"}


@strawberry.type(description="A stamped CFDI 4.0 of what a payment collected.")
class Invoice:
    uuid: str = strawberry.field(description="Folio fiscal (UUID of the TimbreFiscalDigital).")
    status: str = strawberry.field(description="VIGENTE or CANCELADO (at SAT).")
    xml_url: str
    pdf_url: str | None
    tipo: str = strawberry.field(
        default="I",
        description="SAT's TipoDeComprobante: I ingreso, E egreso (nota de crédito), "
        "P pago (Complemento de Pagos 2.0).",
    )


@strawberry.type(description="Banxico's CEP of a SPEI received.")
class Cep:
    status: str = strawberry.field(
        description="PENDIENTE (asked, not published yet: retried), VALIDADO, "
        "NO_ENCONTRADO (after every retry; staff look), SIN_DATOS (no clave de rastreo)."
    )


def _payment_pk(payment_id: str) -> int | None:
    decoded = decode_global_id(payment_id)
    return decoded[1] if decoded and decoded[0] == "Payment" else None


def _shaped(info: Info, invoice: InvoiceModel) -> Invoice:
    base = f"{info.context.runtime.settings.base_url}/facturas/{invoice.uuid}"
    cancelled = InvoiceStatus(invoice.status) is InvoiceStatus.CANCELED
    return Invoice(
        uuid=str(invoice.uuid),
        status="CANCELADO" if cancelled else "VIGENTE",
        xml_url=f"{base}.xml",
        pdf_url=f"{base}.pdf",
        tipo=_TIPO[InvoiceKind(invoice.kind)],
    )


async def resolve_invoice(info: Info, payment_id: str) -> Invoice | None:
    pk = _payment_pk(payment_id)
    invoice = await payment_invoice(pk) if pk else None
    if invoice is None or not invoice.uuid:
        return None
    return _shaped(info, invoice)


async def resolve_fiscal_documents(info: Info, payment_id: str) -> list[Invoice]:
    pk = _payment_pk(payment_id)
    return [_shaped(info, invoice) for invoice in await payment_documents(pk)] if pk else []


async def resolve_cep(payment_id: str) -> Cep | None:
    pk = _payment_pk(payment_id)
    check = await CepCheck.filter(payment_id=pk).first() if pk else None
    return Cep(status=CepStatus(check.status).value) if check else None
