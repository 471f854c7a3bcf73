"""A payment of PPD ingresos given back after its documents were stamped: its Complemento de
Pagos is cancelled (all given back) or replaced (part), the PPD ingreso stays, and what the
refund took back of the payment's PUE ingreso (moratorium) follows the PUE rules; every
amount the ledger's to the centavo, every document through SAT's XSD and the sello check."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from tests.invoicing.support import invoicing_lender, pac_sandbox
from tests.invoicing.test_invoice_doors import token
from tests.invoicing.test_invoicing_service import (
    NS,
    centavos,
    ledger_collected,
    paid,
    parsed,
    refunded,
)
from tests.support import factories
from tests.support.http import app_client, graphql
from tests.support.portal_pay import login

from puente.enums import PaymentStatus as S
from puente.institutions.models import Institution
from puente.invoicing.cfdi import verify_seal
from puente.invoicing.lines import vat_within_sat_limits
from puente.invoicing.models import Invoice, InvoiceKind, InvoiceStatus
from puente.invoicing.service import invoice_xml, payment_invoice, run_invoicing
from puente.ledger.models import JournalEntry, Posting
from puente.loans.jobs import run_daily

pytestmark = pytest.mark.anyio
PAGOS = "{http://www.sat.gob.mx/Pagos20}"


async def _ppd_payment(runtime, amount=20000, *, late=False, **cfdi):
    """A PPD lender's borrower pays ``amount`` centavos; every document is stamped."""
    inst = await invoicing_lender(runtime, metodo_pago="PPD", **cfdi)
    borrower = await factories.user(runtime, inst)
    if late:  # installment 1 overdue through July: late fee and moratorium (with IVA)
        loan = await factories.active_loan(
            inst, borrower, late_annual_rate=Decimal("0.72"), late_fee_centavos=25000
        )
        await run_daily(date(2026, 7, 31))
    else:
        loan = await factories.active_loan(inst, borrower)
    payment = await paid(runtime, loan, amount, key="p1")
    simulator, pac = pac_sandbox()
    await run_invoicing(runtime, pac)
    complement = await Invoice.get(key=f"pago:{payment.id}")
    assert complement.status == InvoiceStatus.STAMPED, complement.last_error
    return payment, complement, simulator, pac


async def _given_back(payment_id: int) -> dict[str, int]:
    """What the payment's refund entries took back, per component (the ledger's centavos)."""
    entries = await JournalEntry.filter(
        payment_id=payment_id, kind__in=["refund", "chargeback"]
    ).values_list("id", flat=True)
    sums: dict[str, int] = {}
    for row in await Posting.filter(entry_id__in=list(entries)):
        if row.component and row.component != "PRINCIPAL" and row.amount_centavos > 0:
            sums[row.component] = sums.get(row.component, 0) + row.amount_centavos
    return sums


def _doctos(xml: bytes):
    return {d.get("IdDocumento"): d for d in etree.fromstring(xml).iter(f"{PAGOS}DoctoRelacionado")}


@pytest.mark.parametrize(
    ("status", "cfdi", "motivo"),
    [
        (S.REFUNDED, {}, "02"),
        (S.CHARGED_BACK, {}, "02"),
        (S.REFUNDED, {"motivo_cancelacion_complemento": "03"}, "03"),
    ],
)
async def test_given_back_in_full_cancels_the_complement_and_keeps_the_ppd_ingreso(
    db, runtime, status, cfdi, motivo
):
    payment, complement, simulator, pac = await _ppd_payment(runtime, **cfdi)
    [billed] = await Invoice.filter(key__startswith="billing:")

    await refunded(runtime, payment, status, "200.00")
    await run_invoicing(runtime, pac)

    complement = await Invoice.get(id=complement.id)
    assert complement.status == InvoiceStatus.CANCELED, complement.last_error
    assert complement.cancel_reason == motivo and complement.substitute_uuid is None
    assert simulator.stamped[complement.uuid]["status"] == "cancelado"
    # The installment is owed again (the ledger reopened it): its PPD ingreso stands.
    assert (await Invoice.get(id=billed.id)).status == InvoiceStatus.STAMPED
    assert simulator.stamped[billed.uuid]["status"] != "cancelado"
    [row] = await Invoice.filter(key__startswith="refund:")
    assert row.status == InvoiceStatus.CANCELED and row.uuid is None
    assert row.last_error == f"Se canceló el complemento de pago ({motivo})."
    assert not await Invoice.filter(kind=InvoiceKind.EGRESO, uuid__isnull=False).exists()
    found = await payment_invoice(payment.id)
    assert found is not None and found.id == complement.id  # the receipt shows it CANCELADO


async def test_an_unknown_cancellation_motivo_is_refused_for_staff_to_fix(db, runtime):
    payment, complement, _, pac = await _ppd_payment(runtime, motivo_cancelacion_complemento="05")
    await refunded(runtime, payment, S.REFUNDED, "200.00")
    await run_invoicing(runtime, pac)
    [row] = await Invoice.filter(key__startswith="refund:")
    assert row.status == InvoiceStatus.FAILED and "02 o 03" in row.last_error
    assert (await Invoice.get(id=complement.id)).status == InvoiceStatus.STAMPED


async def test_a_partial_refund_replaces_the_complement_with_what_is_left_paid(db, runtime):
    payment, old, simulator, pac = await _ppd_payment(runtime)
    [billed] = await Invoice.filter(key__startswith="billing:")
    collected = await ledger_collected(payment.id)

    await refunded(runtime, payment, S.PARTIALLY_REFUNDED, "50.00")
    await run_invoicing(runtime, pac)

    new = await Invoice.get(key__startswith=f"pago:{payment.id}:refund:")
    assert new.status == InvoiceStatus.STAMPED and new.kind == InvoiceKind.PAGO
    old = await Invoice.get(id=old.id)
    assert old.status == InvoiceStatus.CANCELED and old.cancel_reason == "01"
    assert old.substitute_uuid == new.uuid
    assert simulator.stamped[old.uuid]["status"] == "cancelado"
    xml = invoice_xml(runtime, new)
    verify_seal(xml)
    parsed(xml).to_xml(validate=True)  # SAT's XSD with the TFD and Pagos 2.0
    relation = etree.fromstring(xml).find("cfdi:CfdiRelacionados", NS)
    assert relation.get("TipoRelacion") == "04"
    assert relation.find("cfdi:CfdiRelacionado", NS).get("UUID") == old.uuid
    # What is left paid is what the payment collected less what the refund took back.
    given_back = await _given_back(payment.id)
    assert sum(given_back.values()) == 5000
    [docto] = _doctos(xml).values()
    assert docto.get("IdDocumento") == billed.uuid and docto.get("NumParcialidad") == "1"
    left = sum(collected.values()) - 5000
    assert centavos(docto.get("ImpPagado")) == left == new.total_centavos
    assert centavos(docto.get("ImpSaldoAnt")) == billed.total_centavos
    traslado = docto.find(f".//{PAGOS}TrasladoDR")
    base, vat = Decimal(traslado.get("BaseDR")), Decimal(traslado.get("ImporteDR"))
    assert centavos(base) + centavos(vat) == left and vat_within_sat_limits(base, vat)
    found = await payment_invoice(payment.id)
    assert found is not None and found.id == new.id  # the receipt links the one in force

    # The next payment's complement starts from what is left paid, not from the old one.
    later = await paid(runtime, await payment.loan, 10000, key="p2")
    await run_invoicing(runtime, pac)
    third = await Invoice.get(key=f"pago:{later.id}")
    assert third.status == InvoiceStatus.STAMPED, third.last_error
    docto3 = _doctos(invoice_xml(runtime, third))[billed.uuid]
    assert docto3.get("NumParcialidad") == "2"
    assert centavos(docto3.get("ImpSaldoAnt")) == billed.total_centavos - left


async def test_a_full_refund_with_moratorium_cancels_complement_and_pue_ingreso(db, runtime):
    payment, complement, simulator, pac = await _ppd_payment(runtime, 250000, late=True)
    collected = await ledger_collected(payment.id)
    assert collected["LATE_INTEREST"] and collected["LATE_INTEREST_VAT"] and collected["INTEREST"]
    ingreso = await Invoice.get(key=f"payment:{payment.id}")
    assert ingreso.status == InvoiceStatus.STAMPED and ingreso.metodo_pago == "PUE"

    await refunded(runtime, payment, S.REFUNDED, "2500.00")
    await run_invoicing(runtime, pac)

    complement = await Invoice.get(id=complement.id)
    ingreso = await Invoice.get(id=ingreso.id)
    assert (complement.status, complement.cancel_reason) == (InvoiceStatus.CANCELED, "02")
    assert (ingreso.status, ingreso.cancel_reason) == (InvoiceStatus.CANCELED, "03")
    assert simulator.stamped[ingreso.uuid]["status"] == "cancelado"
    [row] = await Invoice.filter(key__startswith="refund:")
    assert row.last_error == "Se canceló el complemento de pago (02). Se canceló el ingreso (03)."


async def _refunded_into_moratorium(runtime):
    payment, old, simulator, pac = await _ppd_payment(runtime, 250000, late=True)
    collected = await ledger_collected(payment.id)
    fees = collected["FEE"] + collected["FEE_VAT"]
    # Give back all but the fees and one peso: last-applied first, so principal, the PPD
    # interest and most of the moratorium go back.
    await refunded(runtime, payment, S.PARTIALLY_REFUNDED, str(Decimal(250000 - fees - 100) / 100))
    await run_invoicing(runtime, pac)
    return payment, old


async def test_a_partial_refund_reaching_moratorium_gets_a_credit_note_and_a_new_complement(
    db, runtime
):
    payment, old = await _refunded_into_moratorium(runtime)
    ingreso = await Invoice.get(key=f"payment:{payment.id}")

    given_back = await _given_back(payment.id)
    late_back = given_back.get("LATE_INTEREST", 0) + given_back.get("LATE_INTEREST_VAT", 0)
    assert late_back > 0
    note = await Invoice.get(kind=InvoiceKind.EGRESO, uuid__isnull=False)
    assert note.related_id == ingreso.id and note.total_centavos == late_back
    xml = invoice_xml(runtime, note)
    verify_seal(xml)
    document = parsed(xml)
    document.to_xml(validate=True)
    assert document["TipoDeComprobante"] == "E" and centavos(document["Total"]) == late_back
    related = etree.fromstring(xml).find(".//cfdi:CfdiRelacionados", NS)
    assert related.get("TipoRelacion") == "01"
    assert related.find("cfdi:CfdiRelacionado", NS).get("UUID") == ingreso.uuid
    # What went back of the PPD ingresos left the complement: replaced or cancelled, so
    # that complement in force + credit note + what is left = the ledger.
    old = await Invoice.get(id=old.id)
    assert old.status == InvoiceStatus.CANCELED
    in_force = await Invoice.filter(
        payment_id=payment.id, kind=InvoiceKind.PAGO, status=InvoiceStatus.STAMPED
    ).first()
    left_paid = in_force.total_centavos if in_force else 0
    ppd_back = sum(given_back.values()) - late_back
    assert old.total_centavos - left_paid == ppd_back
    assert (await Invoice.get(id=ingreso.id)).status == InvoiceStatus.STAMPED


async def test_moratorium_at_a_ppd_institution_is_invoiced_pue_as_the_ledger_collected(db, runtime):
    # Decision (docs/compliance.md): moratorium is never billed before it is paid (it accrues
    # day by day), so it is invoiced when collected: PUE, with its IVA, the ledger's centavos.
    payment, _, _, _ = await _ppd_payment(runtime, 250000, late=True)
    collected = await ledger_collected(payment.id)
    ingreso = await Invoice.get(key=f"payment:{payment.id}")
    document = parsed(invoice_xml(runtime, ingreso))
    assert (document["MetodoPago"], document["FormaPago"]) == ("PUE", "03")
    [late] = [c for c in document["Conceptos"] if c["Descripcion"] == "Intereses moratorios"]
    assert centavos(late["Importe"]) == collected["LATE_INTEREST"]
    assert (
        centavos(late["Impuestos"]["Traslados"]["002|Tasa|0.160000"]["Importe"])
        == (collected["LATE_INTEREST_VAT"])
    )


QUERY = """{ viewer { payments(first: 5) { edges { node {
  invoice { uuid tipo status } fiscalDocuments { uuid tipo status xmlUrl pdfUrl } } } } } }"""


async def test_graphql_and_the_receipt_link_every_document_only_to_its_borrower(db, runtime):
    payment, old = await _refunded_into_moratorium(runtime)
    await factories.user(
        runtime, await Institution.get(id=payment.institution_id), email="beto@example.mx"
    )
    expected = {
        row.uuid: row
        for row in await Invoice.filter(uuid__isnull=False)
        if row.payment_id == payment.id or row.key.startswith("billing:")
    }
    note = await Invoice.get(kind=InvoiceKind.EGRESO, uuid__isnull=False)
    async with app_client(runtime) as client:
        ana = {"Authorization": f"Bearer {await token(runtime, 'ana@example.mx')}"}
        beto = {"Authorization": f"Bearer {await token(runtime, 'beto@example.mx')}"}
        answer = await graphql(client, QUERY, token=ana["Authorization"].split()[1])
        [edge] = answer["data"]["viewer"]["payments"]["edges"]
        documents = edge["node"]["fiscalDocuments"]
        paths = [d["xmlUrl"].removeprefix(runtime.settings.base_url) for d in documents]
        mine = [await client.get(path, headers=ana) for path in paths]
        theirs = [await client.get(path, headers=beto) for path in paths]
        pdf = await client.get(f"/facturas/{note.uuid}.pdf", headers=ana)
        await login(client)
        receipt = await client.get(f"/pagos/{payment.id}/comprobante")

    by_uuid = {d["uuid"]: d for d in documents}
    paid_of = {item["uuid"] for item in old.documents}
    assert paid_of <= set(by_uuid) and set(by_uuid) <= set(expected)
    tipos = {
        (expected[u].kind, d["tipo"], d["status"]) for u, d in by_uuid.items() if u not in paid_of
    }
    assert tipos >= {
        (InvoiceKind.INGRESO, "I", "VIGENTE"),  # the PUE ingreso (moratorium, fees)
        (InvoiceKind.PAGO, "P", "CANCELADO"),  # the complement the refund made wrong
        (InvoiceKind.EGRESO, "E", "VIGENTE"),  # the credit note of the moratorium given back
    }
    assert all(response.status_code == 200 for response in mine)
    assert all(response.status_code == 404 for response in theirs)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert receipt.status_code == 200
    assert f"/facturas/{note.uuid}.xml" in receipt.text and "Nota de crédito" in receipt.text
    assert f"/facturas/{old.uuid}.xml" in receipt.text
