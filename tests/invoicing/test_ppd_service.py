"""An institution that invoices PPD: a PPD ingreso per installment billed and a Complemento
de Pagos 2.0 per payment of it, stamped by the PAC simulator, equal to the ledger."""

from __future__ import annotations

import pytest
from lxml import etree
from tests.invoicing.support import invoicing_lender, pac_sandbox
from tests.invoicing.test_invoice_doors import token
from tests.invoicing.test_invoicing_service import centavos, ledger_collected, paid, parsed
from tests.support import factories
from tests.support.http import app_client

from puente.institutions.models import Institution
from puente.invoicing.cfdi import verify_seal
from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.service import invoice_xml, payment_invoice, run_invoicing

pytestmark = pytest.mark.anyio
PAGOS = "{http://www.sat.gob.mx/Pagos20}"


async def _ppd_loan(runtime):
    inst = await invoicing_lender(runtime, metodo_pago="PPD")
    borrower = await factories.user(runtime, inst)
    return await factories.active_loan(inst, borrower)


def _doctos(xml: bytes):
    [pago] = etree.fromstring(xml).iter(f"{PAGOS}Pago")
    return pago, {d.get("IdDocumento"): d for d in pago.findall(f"{PAGOS}DoctoRelacionado")}


async def test_two_payments_of_a_billed_installment_get_two_parcialidades(db, runtime):
    loan = await _ppd_loan(runtime)
    first = await paid(runtime, loan, 20000, key="p1")  # 200.00: interest and IVA first
    simulator, pac = pac_sandbox()
    await run_invoicing(runtime, pac)

    [billed] = await Invoice.filter(key__startswith="billing:")
    assert billed.status == InvoiceStatus.STAMPED, billed.last_error
    ingreso = parsed(invoice_xml(runtime, billed))
    assert (ingreso["MetodoPago"], ingreso["FormaPago"]) == ("PPD", "99")
    assert billed.installment_number == 1 and billed.payment_id is None
    rep1 = await Invoice.get(key=f"pago:{first.id}")
    assert rep1.kind == InvoiceKind.PAGO and rep1.status == InvoiceStatus.STAMPED, rep1.last_error
    xml1 = invoice_xml(runtime, rep1)
    verify_seal(xml1)
    parsed(xml1).to_xml(validate=True)  # SAT's XSD with the TFD and Pagos 2.0
    assert rep1.uuid in simulator.stamped
    pago, doctos = _doctos(xml1)
    [docto] = doctos.values()
    collected1 = await ledger_collected(first.id)
    assert docto.get("IdDocumento") == billed.uuid and docto.get("NumParcialidad") == "1"
    assert centavos(docto.get("ImpSaldoAnt")) == billed.total_centavos
    assert centavos(docto.get("ImpPagado")) == sum(collected1.values()) == 20000
    traslado = docto.find(f".//{PAGOS}TrasladoDR")
    assert centavos(traslado.get("BaseDR")) == collected1["INTEREST"]
    assert centavos(traslado.get("ImporteDR")) == collected1["INTEREST_VAT"]
    assert pago.get("FormaDePagoP") == "03" and centavos(pago.get("Monto")) == 20000
    # Nothing of the payment is outside the PPD ingreso: no PUE ingreso.
    assert (await Invoice.get(key=f"payment:{first.id}")).status == InvoiceStatus.CANCELED

    # The rest of installment 1, and the next installments it reaches (billed now: each
    # its own PPD ingreso, first parcialidad).
    second = await paid(runtime, loan, 104035, key="p2")
    await run_invoicing(runtime, pac)
    rep2 = await Invoice.get(key=f"pago:{second.id}")
    assert rep2.status == InvoiceStatus.STAMPED, rep2.last_error
    pago2, doctos2 = _doctos(invoice_xml(runtime, rep2))
    docto2 = doctos2[billed.uuid]
    assert docto2.get("NumParcialidad") == "2"
    assert centavos(docto2.get("ImpSaldoAnt")) == billed.total_centavos - 20000
    assert centavos(docto2.get("ImpSaldoInsoluto")) == 0
    collected2 = await ledger_collected(second.id)
    paid_of_billed = collected2["INTEREST"] + collected2["INTEREST_VAT"]
    assert sum(centavos(d.get("ImpPagado")) for d in doctos2.values()) == paid_of_billed
    assert centavos(pago2.get("Monto")) == rep2.total_centavos == paid_of_billed
    others = [d for uuid, d in doctos2.items() if uuid != billed.uuid]
    assert all(d.get("NumParcialidad") == "1" for d in others)


async def test_a_pue_institution_issues_no_complement(db, runtime):
    inst = await invoicing_lender(runtime)
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    payment = await paid(runtime, loan, 124035)
    _, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    assert not await Invoice.filter(kind=InvoiceKind.PAGO).exists()
    assert not await Invoice.filter(key__startswith="billing:").exists()
    ingreso = await Invoice.get(key=f"payment:{payment.id}")
    assert parsed(invoice_xml(runtime, ingreso))["MetodoPago"] == "PUE"


async def test_the_borrower_reaches_the_complement_and_the_ppd_ingreso_nobody_else(db, runtime):
    loan = await _ppd_loan(runtime)
    await factories.user(
        runtime, await Institution.get(id=loan.institution_id), email="beto@example.mx"
    )
    payment = await paid(runtime, loan, 20000, key="p1")
    _, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    [billed] = await Invoice.filter(key__startswith="billing:")
    rep = await payment_invoice(payment.id)
    assert rep is not None and rep.kind == InvoiceKind.PAGO
    async with app_client(runtime) as client:
        ana = {"Authorization": f"Bearer {await token(runtime, 'ana@example.mx')}"}
        beto = {"Authorization": f"Bearer {await token(runtime, 'beto@example.mx')}"}
        mine = await client.get(f"/facturas/{billed.uuid}.xml", headers=ana)
        theirs = await client.get(f"/facturas/{billed.uuid}.xml", headers=beto)
        receipt = await client.get(f"/facturas/{rep.uuid}.xml", headers=ana)
    assert mine.status_code == 200 and billed.uuid.encode() in mine.content
    assert theirs.status_code == 404
    assert receipt.status_code == 200 and b"Pagos" in receipt.content
