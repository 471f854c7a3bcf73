"""Invoices for collected payments: amounts from the ledger, stamped by the PAC simulator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from satcfdi.cfdi import CFDI
from tests.invoicing.support import invoicing_lender, pac_sandbox
from tests.support import factories

from puente.compliance.monitoring_service import drain_monitoring
from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.invoicing.cfdi import verify_seal
from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.pac import PacUnavailable
from puente.invoicing.service import invoice_xml, queue_invoices, run_invoicing
from puente.ledger.models import JournalEntry, Posting
from puente.payments.outcomes import advance_and_notify

pytestmark = pytest.mark.anyio


async def paid(runtime, loan, amount_centavos, key="p1", method=PaymentMethodType.SPEI):
    payment = await factories.payment(loan, key=key, amount_centavos=amount_centavos, method=method)
    await advance_and_notify(runtime, payment.id, S.PAID, source="test", at=runtime.now())
    await drain_monitoring()
    return payment


async def ledger_collected(payment_id: int) -> dict[str, int]:
    entries = await JournalEntry.filter(payment_id=payment_id, kind="payment").values_list(
        "id", flat=True
    )
    sums: dict[str, int] = {}
    for row in await Posting.filter(entry_id__in=list(entries)):
        if row.component and row.component != "PRINCIPAL" and row.amount_centavos < 0:
            sums[row.component] = sums.get(row.component, 0) - row.amount_centavos
    return sums


NS = {"cfdi": "http://www.sat.gob.mx/cfd/4"}


def centavos(value) -> int:
    cents = Decimal(str(value)) * 100
    assert cents == cents.to_integral_value()
    return int(cents)


async def invoiced(runtime, start: date | None = None):
    """A lender with a CSD, a borrower's payment of 1,240.35 and its stamped ingreso."""
    inst = await invoicing_lender(runtime)
    borrower = await factories.user(runtime, inst)
    if start is None:
        loan = await factories.active_loan(inst, borrower)
    else:
        loan = await factories.active_loan(inst, borrower, start=start)
    payment = await paid(runtime, loan, 124035)
    simulator, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    return payment, simulator, pac


async def refunded(runtime, payment, status: S, amount: str) -> None:
    await advance_and_notify(
        runtime, payment.id, status, source="refund", at=runtime.now(), refunded=Decimal(amount)
    )
    await drain_monitoring()


def parsed(xml: bytes) -> CFDI:
    return CFDI.from_xml(etree.fromstring(xml))


async def test_a_collected_installment_gets_a_stamped_cfdi_equal_to_the_ledger(db, runtime):
    inst = await invoicing_lender(runtime)
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    payment = await paid(runtime, loan, 124035)
    simulator, pac = pac_sandbox()

    await run_invoicing(runtime, pac)

    invoice = await Invoice.get(payment_id=payment.id, kind=InvoiceKind.INGRESO)
    assert invoice.status == InvoiceStatus.STAMPED, invoice.last_error
    xml = invoice_xml(runtime, invoice)
    document = parsed(xml)
    document.to_xml(validate=True)  # SAT's XSD, with the TimbreFiscalDigital
    verify_seal(xml)
    timbre = document["Complemento"]["TimbreFiscalDigital"]
    assert timbre["UUID"] == invoice.uuid and invoice.uuid in simulator.stamped
    assert timbre["Version"] == "1.1"
    collected = await ledger_collected(payment.id)
    assert collected.get("INTEREST") and collected.get("INTEREST_VAT")
    concept = document["Conceptos"][0]
    assert concept["Descripcion"] == "Intereses ordinarios"
    assert centavos(concept["Importe"]) == collected["INTEREST"]
    traslado = etree.fromstring(xml).find(".//cfdi:Concepto/cfdi:Impuestos//cfdi:Traslado", NS)
    assert centavos(traslado.get("Importe")) == collected["INTEREST_VAT"]
    assert centavos(document["Total"]) == sum(collected.values()) == invoice.total_centavos
    assert document["MetodoPago"] == "PUE" and document["FormaPago"] == "03"


async def test_a_pac_outage_leaves_the_invoice_pending_for_a_later_sweep(db, runtime):
    inst = await invoicing_lender(runtime)
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    payment = await paid(runtime, loan, 124035)
    _, pac = pac_sandbox()

    class Down:
        async def stamp(self, xml, *, reference):
            raise PacUnavailable("PAC respondió 503")

    await run_invoicing(runtime, Down())
    invoice = await Invoice.get(payment_id=payment.id)
    assert invoice.status == InvoiceStatus.PENDING and invoice.next_attempt_at is not None
    assert invoice.attempts == 1 and "503" in invoice.last_error
    await run_invoicing(runtime, pac)  # not due yet: nothing happens
    assert (await Invoice.get(id=invoice.id)).status == InvoiceStatus.PENDING
    invoice.next_attempt_at = None
    await invoice.save()
    await run_invoicing(runtime, pac)
    assert (await Invoice.get(id=invoice.id)).status == InvoiceStatus.STAMPED
    assert await Invoice.filter(payment_id=payment.id).count() == 1


async def test_without_a_csd_nothing_is_invoiced(db, runtime):
    inst = await factories.institution()
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    await paid(runtime, loan, 124035)
    _, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    assert await Invoice.all().count() == 0


async def test_cash_payment_is_invoiced_as_efectivo(db, runtime):
    inst = await invoicing_lender(runtime)
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    await paid(runtime, loan, 124035, method=PaymentMethodType.CASH)
    _, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    invoice = await Invoice.get(kind=InvoiceKind.INGRESO)
    assert parsed(invoice_xml(runtime, invoice))["FormaPago"] == "01"
    assert ProviderName.STRIPE  # the factory's provider
    assert Decimal(invoice.total_centavos) > 0


async def test_a_full_refund_after_invoicing_cancels_the_cfdi_with_motivo_03(db, runtime):
    payment, simulator, pac = await invoiced(runtime)
    ingreso = await Invoice.get(payment_id=payment.id, kind=InvoiceKind.INGRESO)

    await refunded(runtime, payment, S.REFUNDED, "1240.35")
    await run_invoicing(runtime, pac)

    ingreso = await Invoice.get(id=ingreso.id)
    assert ingreso.status == InvoiceStatus.CANCELED and ingreso.cancel_reason == "03"
    assert simulator.stamped[ingreso.uuid]["status"] == "cancelado"
    assert not await Invoice.filter(kind=InvoiceKind.EGRESO, uuid__isnull=False).exists()


async def test_a_partial_refund_of_interest_gets_a_credit_note_equal_to_the_ledger(db, runtime):
    payment, simulator, pac = await invoiced(runtime)
    ingreso = await Invoice.get(payment_id=payment.id, kind=InvoiceKind.INGRESO)

    # The payment paid overdue interest only: the refund takes back interest and its IVA.
    await refunded(runtime, payment, S.PARTIALLY_REFUNDED, "1000.00")
    await run_invoicing(runtime, pac)

    note = await Invoice.get(kind=InvoiceKind.EGRESO)
    assert note.status == InvoiceStatus.STAMPED, note.last_error
    assert (await Invoice.get(id=ingreso.id)).status == InvoiceStatus.STAMPED
    refund = await JournalEntry.get(payment_id=payment.id, kind="refund")
    given_back = sum(
        row.amount_centavos
        for row in await Posting.filter(entry_id=refund.id)
        if row.component and row.component != "PRINCIPAL" and row.amount_centavos > 0
    )
    assert given_back > 0 and note.total_centavos == given_back
    document = parsed(invoice_xml(runtime, note))
    document.to_xml(validate=True)
    assert document["TipoDeComprobante"] == "E"
    assert centavos(document["Total"]) == given_back
    related = etree.fromstring(invoice_xml(runtime, note)).find(".//cfdi:CfdiRelacionado", NS)
    assert related.get("UUID") == ingreso.uuid


async def test_a_refund_of_principal_only_changes_no_invoice(db, runtime):
    payment, _, pac = await invoiced(runtime, start=date(2026, 11, 1))
    await refunded(runtime, payment, S.PARTIALLY_REFUNDED, "100.00")
    await run_invoicing(runtime, pac)
    assert not await Invoice.filter(kind=InvoiceKind.EGRESO, uuid__isnull=False).exists()
    assert (await Invoice.get(kind=InvoiceKind.INGRESO)).status == InvoiceStatus.STAMPED


async def test_a_payment_given_back_before_stamping_gets_no_cfdi_and_no_cancellation(db, runtime):
    inst = await invoicing_lender(runtime)
    loan = await factories.active_loan(inst, await factories.user(runtime, inst))
    payment = await paid(runtime, loan, 124035)
    await queue_invoices(runtime)  # its ingreso waits to be stamped...
    await refunded(runtime, payment, S.REFUNDED, "1240.35")  # ...when the money goes back
    simulator, pac = pac_sandbox()
    await run_invoicing(runtime, pac)

    ingreso = await Invoice.get(payment_id=payment.id, kind=InvoiceKind.INGRESO)
    assert ingreso.status == InvoiceStatus.CANCELED and ingreso.uuid is None
    assert ingreso.last_error == "Devuelto antes de timbrar: no se emitió CFDI."
    assert simulator.stamped == {}
