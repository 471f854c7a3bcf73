"""What every CFDI Puente issues is made of: the CSD's signer, the parties, the ledger's
rows, sealing off the event loop and stamping at the PAC (shared by ``service.py``, which
invoices what payments collected, and ``ppd.py``, which invoices installments billed and
the payments of them)."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, tzinfo
from decimal import Decimal

from satcfdi.cfdi import CFDI
from satcfdi.models import Signer
from satcfdi.transform import get_timezone
from tortoise.exceptions import IntegrityError

from puente.compliance.models import LoanApplication
from puente.compliance.screening_service import APPLICATION_CONTEXT
from puente.enums import PaymentMethodType, PaymentStatus
from puente.institutions.models import Institution
from puente.invoicing.cfdi import (
    CfdiProblem,
    Issuer,
    Recipient,
    StudentData,
    checked_cfdi,
    forma_pago,
    load_signer,
)
from puente.invoicing.lines import InvoiceLine
from puente.invoicing.models import InstitutionCsd, Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.pac import CancelReason, Pac
from puente.ledger.entries import LOAN_ACCOUNT_TYPES
from puente.ledger.models import Posting
from puente.loans.models import Loan, LoanProduct
from puente.money import to_centavos
from puente.payments.models import Payment
from puente.runtime import Runtime

__all__ = [
    "CSD_CONTEXT",
    "INVOICE_XML_CONTEXT",
    "cancel_invoice",
    "component_rows",
    "installment_rows",
    "is_tuition",
    "issuer_of",
    "local_zone",
    "payment_form_of",
    "queue_row",
    "recipient_of",
    "sealed",
    "signer_of",
    "stamp",
    "student_of",
    "totals",
    "without_cfdi",
]

CSD_CONTEXT = "institution_csd"
INVOICE_XML_CONTEXT = "invoice.xml"
_INVOICED_TYPES = LOAN_ACCOUNT_TYPES


async def signer_of(runtime: Runtime, institution_id: int) -> Signer | None:
    row = await InstitutionCsd.filter(institution_id=institution_id).first()
    if row is None:
        return None
    opened = runtime.cipher.decrypt
    return load_signer(
        base64.b64decode(opened(row.certificate_enc, context=CSD_CONTEXT)),
        base64.b64decode(opened(row.key_enc, context=CSD_CONTEXT)),
        opened(row.password_enc, context=CSD_CONTEXT),
    )


def issuer_of(institution: Institution, rfc: str) -> Issuer:
    cfdi = (institution.settings or {}).get("cfdi") or {}
    return Issuer(
        rfc=rfc,
        name=str(cfdi.get("nombre") or institution.name).upper(),
        regimen=str(cfdi.get("regimen_fiscal") or "601"),
        postal_code=str(cfdi.get("codigo_postal") or "06600"),
        series=str(cfdi.get("serie") or "P"),
        rvoe=str(cfdi.get("rvoe") or ""),
    )


async def recipient_of(runtime: Runtime, loan: Loan, issuer: Issuer) -> Recipient:
    """The borrower as onboarding recorded them; the general public without an application."""
    application = await LoanApplication.filter(user_id=loan.borrower_id).order_by("-id").first()
    if application is None:
        return Recipient.general_public(issuer)
    data = json.loads(runtime.cipher.decrypt(application.data_enc, context=APPLICATION_CONTEXT))
    return Recipient(
        rfc=str(data["rfc"]).upper(),
        name=application.full_name.upper(),
        postal_code=str(data.get("postal_code") or issuer.postal_code),
    )


def student_of(loan: Loan) -> StudentData | None:
    """The IEDU data a tuition plan carries (``Loan.settings["iedu"]``: alumno, curp, nivel)."""
    iedu = (loan.settings or {}).get("iedu")
    if not iedu:
        return None
    return StudentData(
        name=str(iedu["alumno"]),
        curp=str(iedu["curp"]),
        level=str(iedu["nivel"]),
        payer_rfc=iedu.get("rfc_pago") or None,
    )


async def component_rows(entry_ids: list[int]) -> list[tuple[str | None, int]]:
    rows = await Posting.filter(entry_id__in=entry_ids).prefetch_related("account")
    return [
        (row.component, row.amount_centavos)
        for row in rows
        if row.account.type in _INVOICED_TYPES and row.component not in (None, "PRINCIPAL")
    ]


async def is_tuition(loan: Loan) -> bool:
    kind = await LoanProduct.filter(id=loan.product_id).values_list("kind", flat=True)
    return bool(kind) and kind[0] == "tuition"


def totals(lines: list[InvoiceLine]) -> tuple[int, int]:
    base = sum((line.base for line in lines), Decimal(0))
    vat = sum((line.vat or Decimal(0) for line in lines), Decimal(0))
    return to_centavos(base), to_centavos(vat)


async def without_cfdi(invoice: Invoice, why: str) -> None:
    """Settle a row that needs no document (status canceled, the reason in last_error)."""
    invoice.status, invoice.last_error = InvoiceStatus.CANCELED, why
    await invoice.save()


async def given_back_before_stamping(invoice: Invoice, payment: Payment, document: str) -> bool:
    """A payment refunded or charged back before its document was ever stamped needs none
    (nor a cancellation): settle the row saying so, and answer True."""
    given_back = (PaymentStatus.REFUNDED, PaymentStatus.CHARGED_BACK)
    if PaymentStatus(payment.status) in given_back and not invoice.uuid:
        await without_cfdi(invoice, f"Devuelto antes de timbrar: no se emitió {document}.")
        return True
    return False


def payment_form_of(payment: Payment) -> str:
    funding = str((payment.provider_request or {}).get("card_funding") or "")
    return forma_pago(PaymentMethodType(payment.method), str(payment.provider), funding)


async def sealed(document: CFDI, signer: Signer) -> bytes:
    """Seal and check off the event loop: SAT's XSD and XSLT take a second of CPU."""
    return await asyncio.to_thread(checked_cfdi, document, signer)


def local_zone(issuer: Issuer) -> tzinfo:
    """The time zone of the place of issue (CFDI Fecha is local time there, Anexo 20)."""
    zone: tzinfo = get_timezone(issuer.postal_code)
    return zone


async def stamp(
    runtime: Runtime,
    pac: Pac,
    invoice: Invoice,
    xml: bytes,
    lines: list[InvoiceLine],
    now: datetime,
) -> None:
    stamped = await pac.stamp(xml, reference=f"puente-{invoice.key}")
    invoice.uuid = stamped.uuid
    invoice.xml_enc = runtime.cipher.encrypt(stamped.xml.decode(), context=INVOICE_XML_CONTEXT)
    invoice.subtotal_centavos, invoice.vat_centavos = totals(lines)
    invoice.total_centavos = invoice.subtotal_centavos + invoice.vat_centavos
    invoice.status, invoice.stamped_at, invoice.last_error = InvoiceStatus.STAMPED, now, ""
    invoice.attempts += 1
    await invoice.save()


async def installment_rows(entry_ids: list[int]) -> list[tuple[int | None, str | None, int]]:
    """``(installment, component, centavos)`` of entries on the loan's receivables."""
    rows = await Posting.filter(entry_id__in=entry_ids).prefetch_related("account")
    return [
        (row.installment_number, row.component, row.amount_centavos)
        for row in rows
        if row.account.type in _INVOICED_TYPES
    ]


async def queue_row(
    institution_id: int,
    payment_id: int | None,
    key: str,
    *,
    kind: InvoiceKind = InvoiceKind.INGRESO,
    related_id: int | None = None,
    loan_id: int | None = None,
) -> int:
    """A pending outbox row keyed ``key`` (1), unless it exists (0)."""
    if await Invoice.filter(key=key).exists():
        return 0
    try:
        await Invoice.create(
            institution_id=institution_id,
            payment_id=payment_id,
            loan_id=loan_id,
            key=key,
            kind=kind,
            folio="",
            related_id=related_id,
        )
    except IntegrityError:
        return 0  # another worker queued it first
    return 1


async def cancel_invoice(
    runtime: Runtime,
    pac: Pac,
    invoice: Invoice,
    reason: CancelReason,
    *,
    substitute_uuid: str | None = None,
    now: datetime | None = None,
) -> Invoice:
    """Cancel a stamped CFDI at SAT through the PAC with one of SAT's reasons (01–04)."""
    if InvoiceStatus(invoice.status) is not InvoiceStatus.STAMPED or not invoice.uuid:
        raise CfdiProblem("Solo se puede cancelar un CFDI timbrado.")
    csd = await InstitutionCsd.get(institution_id=invoice.institution_id)
    await pac.cancel(csd.rfc, invoice.uuid, reason, substitute_uuid)
    invoice.status = InvoiceStatus.CANCELED
    invoice.cancel_reason = reason.value
    invoice.substitute_uuid = substitute_uuid
    invoice.canceled_at = now or runtime.now()
    await invoice.save()
    return invoice
