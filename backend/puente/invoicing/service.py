"""Invoicing collected payments (service): CSD, outbox rows, stamping, refunds.

Never on the payment path: a payment becomes PAID, commits, and only then the fiscal worker
(``invoicing/worker.py``) is woken. The worker's sweep is the outbox: every PAID payment of
an institution with a CSD and no invoice gets a ``pending`` row; every pending row due is
built from the ledger, sealed, checked and sent to the PAC; a PAC that is down leaves it
pending with a later ``next_attempt_at`` (backoff); a document the PAC refuses is ``failed``
for staff. Refunds: a payment refunded in full before any credit note has its CFDI
cancelled (SAT motivo 03, the operation did not happen); a partial refund that gives back
invoiced components (interest, moratorium, fees and their IVA) gets an egreso credit note
related to the ingreso (TipoRelacion 01) with exactly what the refund entry took back. At
an institution that invoices PPD, what the refund took back of PPD ingresos corrects the
payment's complement (``ppd_refunds.py``) and the rest follows these rules.
"""

from __future__ import annotations

import base64
import logging
from datetime import datetime, timedelta

from satcfdi.models import Signer

from puente.enums import JournalKind
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.invoicing.cfdi import (
    CfdiProblem,
    Issuer,
    build_credit_note,
    build_invoice,
    load_signer,
)
from puente.invoicing.lines import (
    InvoiceLine,
    LineProblem,
    collected_by_component,
    credit_note_lines,
    invoice_lines,
)
from puente.invoicing.models import InstitutionCsd, Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.pac import CancelReason, Pac, PacRefused, PacUnavailable
from puente.invoicing.parts import (
    CSD_CONTEXT,
    INVOICE_XML_CONTEXT,
    cancel_invoice,
    component_rows,
    given_back_before_stamping,
    is_tuition,
    issuer_of,
    local_zone,
    payment_form_of,
    queue_row,
    recipient_of,
    sealed,
    signer_of,
    stamp,
    student_of,
    without_cfdi,
)
from puente.invoicing.payments_complement import metodo_pago
from puente.invoicing.ppd import issue_billed, issue_pago, ppd_split, queue_ppd
from puente.invoicing.ppd_refunds import settle_complement_refund
from puente.ledger.models import JournalEntry
from puente.loans.models import Loan
from puente.payments.models import Payment
from puente.runtime import Runtime

__all__ = [
    "CSD_CONTEXT",
    "INVOICE_XML_CONTEXT",
    "CsdProblem",
    "cancel_invoice",
    "invoice_xml",
    "issue_pending",
    "payment_documents",
    "payment_invoice",
    "queue_invoices",
    "run_invoicing",
    "store_csd",
]

logger = logging.getLogger("puente.invoicing")
# Seconds until the next attempt after the n-th failure at the PAC (then every 6 h).
BACKOFF = (60, 300, 1800, 7200)
REFUND_KINDS = (JournalKind.REFUND, JournalKind.CHARGEBACK)


class CsdProblem(ValueError):
    """A CSD refused (Spanish message, never the key or the password)."""


# -- the CSD ---------------------------------------------------------------------------------------
async def store_csd(
    runtime: Runtime, institution: Institution, certificate: bytes, key: bytes, password: str
) -> InstitutionCsd:
    """Store (or replace) the institution's CSD, encrypted; it must open and match its RFC."""
    try:
        signer = load_signer(certificate, key, password)
    except CfdiProblem as exc:
        raise CsdProblem(str(exc)) from exc
    rfc = str(signer.rfc)
    if institution.rfc and institution.rfc.upper() != rfc:
        raise CsdProblem("El CSD es de otro RFC que el de la institución.")
    seal = runtime.cipher.encrypt
    values = {
        "rfc": rfc,
        "certificate_number": signer.certificate_number,
        "certificate_enc": seal(base64.b64encode(certificate).decode(), context=CSD_CONTEXT),
        "key_enc": seal(base64.b64encode(key).decode(), context=CSD_CONTEXT),
        "password_enc": seal(password, context=CSD_CONTEXT),
    }
    row, _ = await InstitutionCsd.update_or_create(institution_id=institution.id, defaults=values)
    return row


# -- what the ledger says --------------------------------------------------------------------------
async def _collected_lines(payment: Payment, loan: Loan) -> list[InvoiceLine]:
    entries = await JournalEntry.filter(
        payment_id=payment.id, kind=JournalKind.PAYMENT
    ).values_list("id", flat=True)
    collected = collected_by_component(await component_rows(list(entries)))
    return invoice_lines(collected, tuition=await is_tuition(loan))


# -- the outbox ------------------------------------------------------------------------------------
async def queue_invoices(runtime: Runtime) -> int:
    """Pending rows for every PAID (or later refunded) payment that has none yet, and for
    every refund entry of an invoiced payment; returns how many were added."""
    institutions = await InstitutionCsd.all().values_list("institution_id", flat=True)
    if not institutions:
        return 0
    added = 0
    received = [S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK]
    added += await queue_ppd(list(institutions))  # PPD ingresos first: payments relate to them
    invoiced = await Invoice.filter(kind=InvoiceKind.INGRESO, payment_id__isnull=False).values_list(
        "payment_id", flat=True
    )
    for payment in await Payment.filter(
        institution_id__in=list(institutions), status__in=received, id__not_in=list(invoiced)
    ):
        added += await queue_row(payment.institution_id, payment.id, f"payment:{payment.id}")
    for invoice in await Invoice.filter(  # a payment's ingreso or complement (PPD)
        kind__in=[InvoiceKind.INGRESO, InvoiceKind.PAGO],
        status__in=[InvoiceStatus.STAMPED, InvoiceStatus.PENDING],
        payment_id__isnull=False,
    ):
        refunds = await JournalEntry.filter(
            payment_id=invoice.payment_id, kind__in=list(REFUND_KINDS)
        ).values_list("id", flat=True)
        for entry_id in refunds:
            added += await queue_row(
                invoice.institution_id,
                invoice.payment_id,
                f"refund:{entry_id}",
                kind=InvoiceKind.EGRESO,
                related_id=invoice.id,
            )
    return added


async def issue_pending(runtime: Runtime, pac: Pac, *, now: datetime | None = None) -> int:
    """Work every pending row that is due; returns how many reached a final state."""
    now = now or runtime.now()
    done = 0
    due = await Invoice.filter(status=InvoiceStatus.PENDING).order_by("id")
    for invoice in due:
        if invoice.next_attempt_at is not None and invoice.next_attempt_at > now:
            continue
        # An ingreso before its credit notes: a credit note relates to a stamped UUID.
        await _work(runtime, pac, invoice, now)
        if InvoiceStatus(invoice.status) is not InvoiceStatus.PENDING:
            done += 1
    return done


async def run_invoicing(runtime: Runtime, pac: Pac) -> int:
    """The fiscal worker's invoicing step: queue what is missing, work what is due."""
    await queue_invoices(runtime)
    return await issue_pending(runtime, pac)


async def _work(runtime: Runtime, pac: Pac, invoice: Invoice, now: datetime) -> None:
    signer = await signer_of(runtime, invoice.institution_id)
    if signer is None:
        return
    institution = await Institution.get(id=invoice.institution_id)
    issuer = issuer_of(institution, str(signer.rfc))
    try:
        if invoice.payment_id is None:  # an installment billed (PPD)
            await issue_billed(runtime, pac, invoice, signer, issuer, now)
            return
        payment = await Payment.get(id=invoice.payment_id).prefetch_related("loan", "institution")
        kind = InvoiceKind(invoice.kind)
        if kind is InvoiceKind.PAGO:
            await issue_pago(runtime, pac, invoice, payment, signer, issuer, now)
        elif kind is InvoiceKind.INGRESO:
            await _issue_ingreso(runtime, pac, invoice, payment, signer, issuer, now)
        else:
            await _settle_refund(runtime, pac, invoice, payment, signer, issuer, now)
    except PacUnavailable as exc:
        delay = BACKOFF[invoice.attempts] if invoice.attempts < len(BACKOFF) else 6 * 3600
        invoice.attempts += 1
        invoice.next_attempt_at = now + timedelta(seconds=delay)
        invoice.last_error = exc.message[:500]
        await invoice.save()
    except (PacRefused, CfdiProblem, LineProblem) as exc:
        invoice.attempts += 1
        invoice.status = InvoiceStatus.FAILED
        invoice.last_error = str(exc)[:500]
        await invoice.save()
        logger.warning("invoice %s failed: %s", invoice.id, invoice.last_error)


async def _issue_ingreso(
    runtime: Runtime,
    pac: Pac,
    invoice: Invoice,
    payment: Payment,
    signer: Signer,
    issuer: Issuer,
    now: datetime,
) -> None:
    if await given_back_before_stamping(invoice, payment, "CFDI"):
        return
    loan = payment.loan
    if metodo_pago(payment.institution.settings) == "PPD":
        split = await ppd_split(payment)
        if split is None:
            return  # a PPD ingreso of this loan is still at the PAC: after it
        lines = invoice_lines(split[1], tuition=await is_tuition(loan))  # what no PPD covers
    else:
        lines = await _collected_lines(payment, loan)
    if not lines:  # all principal (or advance, or paid on PPD ingresos): no PUE CFDI
        await without_cfdi(invoice, "Sin intereses ni comisiones.")
        return
    invoice.folio = invoice.folio or str(invoice.id)
    document = build_invoice(
        issuer=issuer,
        recipient=await recipient_of(runtime, loan, issuer),
        lines=lines,
        folio=invoice.folio,
        payment_form=payment_form_of(payment),
        issued_at=now.astimezone(local_zone(issuer)),
        student=student_of(loan),
    )
    await stamp(runtime, pac, invoice, await sealed(document, signer), lines, now)


async def _settle_refund(
    runtime: Runtime,
    pac: Pac,
    invoice: Invoice,
    payment: Payment,
    signer: Signer,
    issuer: Issuer,
    now: datetime,
) -> None:
    entry_id = int(invoice.key.split(":")[1])
    done = ""  # what was done of the payment's complement (PPD)
    if metodo_pago(payment.institution.settings) == "PPD":
        documents = await Invoice.filter(
            key__in=[f"payment:{payment.id}", f"pago:{payment.id}"]
        ).values_list("status", flat=True)
        split = await ppd_split(payment, issuer.series, refund_entry=entry_id)
        if split is None or InvoiceStatus.PENDING in documents:
            return  # the payment's documents first; this row is retried on the next sweep
        of_ppd, given_back = split  # the rest is on the payment's PUE ingreso, if any
        done = await settle_complement_refund(
            runtime, pac, invoice, payment, of_ppd, signer, issuer, now
        )
        ingreso = await Invoice.filter(key=f"payment:{payment.id}").first()
    else:
        ingreso = await Invoice.get(id=invoice.related_id)
        if InvoiceStatus(ingreso.status) is InvoiceStatus.PENDING:
            return  # the ingreso first; this row is retried on the next sweep
        given_back = collected_by_component(
            (component, -centavos) for component, centavos in await component_rows([entry_id])
        )
    if ingreso is None or InvoiceStatus(ingreso.status) is not InvoiceStatus.STAMPED:
        await without_cfdi(invoice, done or "Sin CFDI de ingreso.")
        return
    earlier_notes = await Invoice.filter(
        related_id=ingreso.id, status=InvoiceStatus.STAMPED, id__not=invoice.id
    ).exists()
    if S(payment.status) in (S.REFUNDED, S.CHARGED_BACK) and not earlier_notes:
        await cancel_invoice(runtime, pac, ingreso, CancelReason.NOT_CARRIED_OUT, now=now)
        await without_cfdi(invoice, f"{done} Se canceló el ingreso (03).".strip())
        return
    taxed = {line.kind for line in await _collected_lines(payment, payment.loan) if line.vat}
    lines = credit_note_lines(given_back, taxed, tuition=await is_tuition(payment.loan))
    if not lines:  # the refund took back principal only: nothing invoiced changes
        await without_cfdi(invoice, done or "Solo capital: sin nota.")
        return
    invoice.related_id = ingreso.id
    invoice.folio = invoice.folio or str(invoice.id)
    document = build_credit_note(
        issuer=issuer,
        recipient=await recipient_of(runtime, payment.loan, issuer),
        lines=lines,
        related_uuid=str(ingreso.uuid),
        folio=invoice.folio,
        payment_form=payment_form_of(payment),
        issued_at=now.astimezone(local_zone(issuer)),
    )
    await stamp(runtime, pac, invoice, await sealed(document, signer), lines, now)


# -- cancellation and reads ------------------------------------------------------------------------
def invoice_xml(runtime: Runtime, invoice: Invoice) -> bytes | None:
    """The stamped XML (decrypted), or None before stamping."""
    if not invoice.xml_enc:
        return None
    return runtime.cipher.decrypt(invoice.xml_enc, context=INVOICE_XML_CONTEXT).encode()


async def payment_invoice(payment_id: int) -> Invoice | None:
    """The CFDI of a payment, once it was stamped (cancelled ones included): its ingreso, or
    for a payment of PPD ingresos its Complemento de Pagos."""
    for kind in (InvoiceKind.INGRESO, InvoiceKind.PAGO):
        found = (
            await Invoice.filter(payment_id=payment_id, kind=kind, uuid__isnull=False)
            .order_by("-id")
            .first()
        )
        if found is not None:
            return found
    return None


async def payment_documents(payment_id: int) -> list[Invoice]:
    """Every CFDI stamped for a payment, in the order issued (cancelled ones included): the
    PPD ingresos it paid, its PUE ingreso, its Complemento de Pagos and any that replaced it
    after a refund, its credit notes."""
    own = await Invoice.filter(payment_id=payment_id, uuid__isnull=False).order_by("id")
    paid = {
        int(item["invoice"])
        for row in own
        if InvoiceKind(row.kind) is InvoiceKind.PAGO
        for item in row.documents or []
    }
    billed = await Invoice.filter(id__in=sorted(paid), uuid__isnull=False) if paid else []
    return sorted([*billed, *own], key=lambda row: row.id)
