"""Installments invoiced when they fall due (PPD) and the complement of each payment (service).

For an institution with ``settings["cfdi"]["metodo_pago"] = "PPD"`` (``payments_complement``
says when that applies), the outbox gets:

* ``billing:<journal entry>``: a PPD ingreso (FormaPago 99) of what an installment's BILLING
  entry made receivable (interest, its IVA, fees), from the ledger's postings. Entries
  dated before ``settings["cfdi"]["ppd_desde"]`` (ISO date, optional) are left to PUE, so
  switching does not invoice twice what was already invoiced on collection.
* ``pago:<payment>``: a CFDI of type P (Pagos 2.0) for what the payment paid of those
  ingresos: NumParcialidad and ImpSaldoAnt follow from the complements already stamped.

What a payment collected outside any PPD ingreso (moratorium interest, installments billed
before the switch) is invoiced PUE by ``service._issue_ingreso`` with the rest of the split.
Rows wait, without counting an attempt, while a PPD ingreso of the loan is at the PAC.
A payment given back after its complement was stamped: ``ppd_refunds.py``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from satcfdi.models import Signer

from puente.enums import JournalKind
from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.invoicing.cfdi import Issuer, build_invoice
from puente.invoicing.lines import collected_by_component, invoice_lines
from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.pac import Pac
from puente.invoicing.parts import (
    given_back_before_stamping,
    installment_rows,
    is_tuition,
    local_zone,
    payment_form_of,
    queue_row,
    recipient_of,
    sealed,
    stamp,
    student_of,
    without_cfdi,
)
from puente.invoicing.payments_complement import (
    BilledDocument,
    PaidDocument,
    billed_components,
    build_payment_complement,
    metodo_pago,
    split_payment,
)
from puente.ledger.models import JournalEntry
from puente.loans.engine import Component
from puente.loans.models import Loan
from puente.money import from_centavos, to_centavos
from puente.payments.models import Payment
from puente.runtime import Runtime

__all__ = ["issue_billed", "issue_pago", "ppd_split", "queue_ppd", "stamp_complement"]

RECEIVED = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK)


def _since(institution: Institution) -> date | None:
    value = ((institution.settings or {}).get("cfdi") or {}).get("ppd_desde")
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


async def queue_ppd(institution_ids: list[int]) -> int:
    """Outbox rows of the institutions that invoice PPD; returns how many were added."""
    added = 0
    for institution in await Institution.filter(id__in=institution_ids):
        if metodo_pago(institution.settings) != "PPD":
            continue
        queued = set(
            await Invoice.filter(institution_id=institution.id).values_list("key", flat=True)
        )
        entries = JournalEntry.filter(institution_id=institution.id, kind=JournalKind.BILLING)
        since = _since(institution)
        if since is not None:
            entries = entries.filter(effective_date__gte=since)
        for entry_id, loan_id in await entries.order_by("id").values_list("id", "loan_id"):
            if f"billing:{entry_id}" not in queued:
                added += await queue_row(
                    institution.id, None, f"billing:{entry_id}", loan_id=loan_id
                )
        for payment_id in await Payment.filter(
            institution_id=institution.id, status__in=list(RECEIVED)
        ).values_list("id", flat=True):
            if f"pago:{payment_id}" not in queued:
                added += await queue_row(
                    institution.id, payment_id, f"pago:{payment_id}", kind=InvoiceKind.PAGO
                )
    return added


async def issue_billed(
    runtime: Runtime, pac: Pac, invoice: Invoice, signer: Signer, issuer: Issuer, now: datetime
) -> None:
    """The PPD ingreso of one installment's BILLING entry."""
    entry = await JournalEntry.get(id=int(invoice.key.split(":")[1]))
    loan = await Loan.get(id=entry.loan_id)
    rows = await installment_rows([entry.id])
    billed = collected_by_component((component, -cents) for _, component, cents in rows)
    lines = invoice_lines(billed, tuition=await is_tuition(loan))
    if not lines:
        await without_cfdi(invoice, "Sin intereses ni comisiones que facturar.")
        return
    invoice.loan_id = loan.id
    invoice.installment_number = next((n for n, _, _ in rows if n is not None), None)
    invoice.metodo_pago = "PPD"
    invoice.folio = invoice.folio or str(invoice.id)
    document = build_invoice(
        issuer=issuer,
        recipient=await recipient_of(runtime, loan, issuer),
        lines=lines,
        folio=invoice.folio,
        payment_form="99",
        issued_at=now.astimezone(local_zone(issuer)),
        student=student_of(loan),
        metodo_pago="PPD",
    )
    await stamp(runtime, pac, invoice, await sealed(document, signer), lines, now)


async def _billed_documents(payment: Payment, series: str) -> dict[int, BilledDocument] | None:
    """The loan's stamped PPD ingresos by installment, with what earlier complements paid
    of each; None while one of them is still at the PAC."""
    ppd = await Invoice.filter(
        loan_id=payment.loan_id, kind=InvoiceKind.INGRESO, metodo_pago="PPD"
    ).order_by("id")
    if any(InvoiceStatus(row.status) is InvoiceStatus.PENDING for row in ppd):
        return None
    paid: dict[int, int] = {}
    count: dict[int, int] = {}
    for earlier in await Invoice.filter(
        institution_id=payment.institution_id,
        kind=InvoiceKind.PAGO,
        status=InvoiceStatus.STAMPED,
        payment_id__not=payment.id,
    ):
        for item in earlier.documents or []:
            paid[item["invoice"]] = paid.get(item["invoice"], 0) + to_centavos(
                Decimal(item["paid"])
            )
            count[item["invoice"]] = count.get(item["invoice"], 0) + 1
    documents = {}
    for row in ppd:
        if InvoiceStatus(row.status) is not InvoiceStatus.STAMPED or row.installment_number is None:
            continue
        rows = await installment_rows([int(row.key.split(":")[1])])
        documents[row.installment_number] = BilledDocument(
            invoice_id=row.id,
            uuid=str(row.uuid),
            serie=series,
            folio=row.folio,
            installment=row.installment_number,
            components=billed_components([(c, cents) for _, c, cents in rows]),
            total=from_centavos(row.total_centavos),
            paid_before=from_centavos(paid.get(row.id, 0)),
            payments_before=count.get(row.id, 0),
        )
    return documents


async def ppd_split(
    payment: Payment, series: str = "", *, refund_entry: int | None = None
) -> tuple[list[PaidDocument], dict[Component, Decimal]] | None:
    """What the payment paid of each PPD ingreso (``series``: theirs), and the rest;
    None: wait. With ``refund_entry``: what that refund (or chargeback) entry of the
    payment took back of each, and of the rest, by the same rule."""
    billed = await _billed_documents(payment, series)
    if billed is None:
        return None
    if refund_entry is not None:  # the refund debits what the payment credited
        rows = [(n, c, -cents) for n, c, cents in await installment_rows([refund_entry])]
        return split_payment(rows, billed)
    entries = await JournalEntry.filter(
        payment_id=payment.id, kind=JournalKind.PAYMENT
    ).values_list("id", flat=True)
    return split_payment(await installment_rows(list(entries)), billed)


async def issue_pago(
    runtime: Runtime,
    pac: Pac,
    invoice: Invoice,
    payment: Payment,
    signer: Signer,
    issuer: Issuer,
    now: datetime,
) -> None:
    """The Complemento de Pagos 2.0 of one payment of PPD ingresos."""
    if await given_back_before_stamping(invoice, payment, "complemento"):
        return
    split = await ppd_split(payment, issuer.series)
    if split is None:
        return  # its PPD ingreso first
    documents, _ = split
    if not documents:
        await without_cfdi(invoice, "El pago no cubre CFDI en parcialidades.")
        return
    invoice.folio = invoice.folio or str(invoice.id)
    await stamp_complement(runtime, pac, invoice, payment, documents, signer, issuer, now)


async def stamp_complement(
    runtime: Runtime,
    pac: Pac,
    invoice: Invoice,
    payment: Payment,
    documents: list[PaidDocument],
    signer: Signer,
    issuer: Issuer,
    now: datetime,
    *,
    replaces: str | None = None,
) -> None:
    """Build, seal and stamp the complement of ``payment`` into ``invoice`` (its folio set),
    keeping what it paid of each PPD ingreso on the row for the next complements."""
    zone = local_zone(issuer)
    document = build_payment_complement(
        issuer=issuer,
        recipient=await recipient_of(runtime, payment.loan, issuer),
        documents=documents,
        paid_at=(payment.paid_at or now).astimezone(zone),
        payment_form=payment_form_of(payment),
        folio=invoice.folio,
        issued_at=now.astimezone(zone),
        replaces=replaces,
    )
    invoice.documents = [d.as_dict() for d in documents]
    await stamp(runtime, pac, invoice, await sealed(document, signer), [], now)
    vat = sum((d.vat for d in documents), Decimal(0))
    total = sum((d.paid for d in documents), Decimal(0))
    invoice.vat_centavos, invoice.total_centavos = to_centavos(vat), to_centavos(total)
    invoice.subtotal_centavos = invoice.total_centavos - invoice.vat_centavos
    await invoice.save()
