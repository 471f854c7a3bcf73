"""The Complemento de recepción de pagos 2.0 (pure): PPD ingresos, what a payment paid of
each, and the CFDI of type P that passes SAT's schema, satcfdi's seal check and the PAC."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import pytest
from lxml import etree
from satcfdi.cfdi import CFDI
from tests.invoicing.support import CSD_PASSWORD, csd_files, pac_sandbox

from puente.invoicing.cfdi import Issuer, Recipient, build_invoice, checked_cfdi, load_signer
from puente.invoicing.lines import LineProblem, invoice_lines, vat_within_sat_limits
from puente.invoicing.payments_complement import (
    BilledDocument,
    PaidDocument,
    build_payment_complement,
    complement_cancel_reason,
    metodo_pago,
    paid_after_refund,
    split_payment,
)
from puente.loans.engine import Component as C

pytestmark = pytest.mark.anyio

ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "42501")
ANA = Recipient("CACX7605101P8", "XOCHILT CASAS CHAVEZ", "10740", "605", "D10")
WHEN = datetime(2026, 11, 27, 10, 30)
UUID1 = "5FB2822E-396D-4725-8521-CDC4BDD20CCF"
UUID2 = "6AC3933F-4A7E-4836-9632-DED5CEE31DD0"
PAGOS = "{http://www.sat.gob.mx/Pagos20}"


def signer():
    cer, key = csd_files()
    return load_signer(cer, key, CSD_PASSWORD)


def billed(number: int, uuid: str, total: str, before: str = "0", payments: int = 0):
    return BilledDocument(
        invoice_id=number,
        uuid=uuid,
        serie="P",
        folio=str(number),
        installment=number,
        components=frozenset({C.INTEREST, C.INTEREST_VAT}),
        total=D(total),
        paid_before=D(before),
        payments_before=payments,
    )


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (None, "PUE"),
        ({"cfdi": {}}, "PUE"),
        ({"cfdi": {"metodo_pago": "ppd"}}, "PPD"),
        ({"cfdi": {"metodo_pago": "XYZ"}}, "PUE"),
    ],
)
def test_pue_unless_the_institution_chose_ppd(settings, expected):
    assert metodo_pago(settings) == expected


def test_a_ppd_ingreso_says_ppd_and_forma_de_pago_99():
    lines = invoice_lines({C.INTEREST: D("360.00"), C.INTEREST_VAT: D("57.60")})
    document = build_invoice(
        issuer=ISSUER,
        recipient=ANA,
        lines=lines,
        folio="1",
        payment_form="03",
        issued_at=WHEN,
        metodo_pago="PPD",
    )
    root = etree.fromstring(checked_cfdi(document, signer()))
    assert (root.get("MetodoPago"), root.get("FormaPago"), root.get("Total")) == (
        "PPD",
        "99",
        "417.60",
    )


def test_a_payment_splits_between_ppd_documents_and_the_rest():
    # Installment 1 billed PPD (interest 360.00 + IVA 57.60); installment 2 not billed that
    # way; moratorium interest is never in a PPD document: all of it goes to a PUE ingreso.
    rows = [
        (1, "INTEREST", -20000),
        (1, "INTEREST_VAT", -3200),
        (1, "LATE_INTEREST", -1000),
        (1, "LATE_INTEREST_VAT", -160),
        (1, "PRINCIPAL", -50000),
        (2, "INTEREST", -5000),
    ]
    paid, rest = split_payment(rows, {1: billed(1, UUID1, "417.60")})
    assert paid == [
        PaidDocument(1, UUID1, "P", "1", 1, D("417.60"), D("200.00"), D("32.00"), D("0.00"))
    ]
    assert rest == {
        C.LATE_INTEREST: D("10.00"),
        C.LATE_INTEREST_VAT: D("1.60"),
        C.INTEREST: D("50.00"),
    }


def _complement(documents):
    return build_payment_complement(
        issuer=ISSUER,
        recipient=ANA,
        documents=documents,
        paid_at=WHEN,
        payment_form="03",
        folio="9",
        issued_at=WHEN,
    )


async def test_the_complement_validates_and_its_amounts_are_the_ledgers_to_the_centavo():
    first, _ = split_payment(
        [(1, "INTEREST", -20000), (1, "INTEREST_VAT", -3200)], {1: billed(1, UUID1, "417.60")}
    )
    # A second payment: the rest of installment 1 (second parcialidad) and all of 2.
    second, _ = split_payment(
        [
            (1, "INTEREST", -16000),
            (1, "INTEREST_VAT", -2560),
            (2, "INTEREST", -33532),
            (2, "INTEREST_VAT", -5365),
        ],
        {1: billed(1, UUID1, "417.60", before="232.00", payments=1), 2: billed(2, UUID2, "388.97")},
    )
    xml = checked_cfdi(_complement(second), signer())  # SAT's XSD, the seal, satcfdi's model
    root = etree.fromstring(xml)
    assert (root.get("TipoDeComprobante"), root.get("Total"), root.get("Moneda")) == (
        "P",
        "0",
        "XXX",
    )
    pago = root.find(f".//{PAGOS}Pago")
    assert pago.get("Monto") == "574.57"  # 185.60 + 388.97
    one, two = pago.findall(f"{PAGOS}DoctoRelacionado")
    assert (one.get("NumParcialidad"), one.get("ImpSaldoAnt"), one.get("ImpPagado")) == (
        "2",
        "185.60",
        "185.60",
    )
    assert one.get("ImpSaldoInsoluto") == "0.00" and two.get("ImpSaldoInsoluto") == "0.00"
    traslado = one.find(f".//{PAGOS}TrasladoDR")
    assert (traslado.get("BaseDR"), traslado.get("ImporteDR")) == ("160.00", "25.60")
    totales = root.find(f".//{PAGOS}Totales")
    assert totales.get("TotalTrasladosBaseIVA16") == "495.32"  # 160.00 + 335.32
    assert totales.get("TotalTrasladosImpuestoIVA16") == "79.25"  # 25.60 + 53.65
    assert totales.get("MontoTotalPagos") == "574.57"
    parsed = CFDI.from_xml(etree.fromstring(xml))
    assert parsed["Complemento"]["Pagos"]["Pago"][0]["DoctoRelacionado"][0]["IdDocumento"] == UUID1
    simulator, pac = pac_sandbox()
    stamped = await pac.stamp(checked_cfdi(_complement(first), signer()), reference="pago:1")
    assert simulator.stamped[stamped.uuid]["status"] != "cancelado"


def test_paying_more_than_the_balance_or_iva_that_is_not_16_percent_is_refused():
    over = PaidDocument(1, UUID1, "P", "1", 2, D("10.00"), D("100.00"), D("16.00"))
    with pytest.raises(LineProblem):
        _complement([over])
    wrong_vat = PaidDocument(1, UUID1, "P", "1", 1, D("417.60"), D("100.00"), D("17.00"))
    with pytest.raises(LineProblem):
        _complement([wrong_vat])
    with pytest.raises(LineProblem):
        _complement([])


def _docto(invoice_id, uuid, base, vat, exempt="0", before="417.60", number=1):
    return PaidDocument(
        invoice_id, uuid, "P", str(invoice_id), number, D(before), D(base), D(vat), D(exempt)
    )


def test_after_a_refund_the_complement_keeps_what_is_left_paid_split_at_sixteen_percent():
    paid = [_docto(1, UUID1, "142.40", "22.78"), _docto(2, UUID2, "100.00", "16.00")]
    # The refund took IVA before its base (last applied first): 22.78 of IVA and 27.22 of base.
    back = [_docto(1, UUID1, "27.22", "22.78", before="0")]
    first, second = paid_after_refund(paid, back)
    assert second == paid[1]  # untouched
    assert first.paid == D("115.18") == paid[0].paid - D("50.00")
    assert (first.taxed_base, first.vat) == (D("99.29"), D("15.89"))
    assert vat_within_sat_limits(first.taxed_base, first.vat)
    assert (first.number, first.balance_before) == (1, D("417.60"))
    # All given back: the document leaves the complement; none left: nothing to replace.
    assert paid_after_refund(paid[1:], [_docto(2, UUID2, "100.00", "16.00")]) == []
    exempt = paid_after_refund(
        [_docto(3, UUID1, "0", "0", "500.00")], [_docto(3, UUID1, "0", "0", "120.00")]
    )
    assert [(d.taxed_base, d.vat, d.exempt_base) for d in exempt] == [(D(0), D(0), D("380.00"))]


def test_a_refund_of_more_than_was_paid_or_of_another_document_is_refused():
    paid = [_docto(1, UUID1, "100.00", "16.00")]
    with pytest.raises(LineProblem):
        paid_after_refund(paid, [_docto(1, UUID1, "100.00", "16.01")])
    with pytest.raises(LineProblem):
        paid_after_refund(paid, [_docto(2, UUID2, "1.00", "0.16")])


def test_a_payment_that_pays_iva_out_of_proportion_is_split_at_sixteen_percent():
    # After a refund reopened 34.48 of IVA and 15.52 of its base, a payment pays them again
    # (and 50.00 more of base): the total stays the ledger's, the split SAT's.
    [docto], rest = split_payment(
        [(1, "INTEREST_VAT", -3448), (1, "INTEREST", -6552)], {1: billed(1, UUID1, "417.60")}
    )
    assert rest == {} and docto.paid == D("100.00")
    assert (docto.taxed_base, docto.vat) == (D("86.21"), D("13.79"))
    # In proportion, the ledger's own split stays.
    [same], _ = split_payment(
        [(1, "INTEREST_VAT", -1600), (1, "INTEREST", -10000)], {1: billed(1, UUID1, "417.60")}
    )
    assert (same.taxed_base, same.vat) == (D("100.00"), D("16.00"))


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (None, "02"),
        ({"cfdi": {}}, "02"),
        ({"cfdi": {"motivo_cancelacion_complemento": "03"}}, "03"),
    ],
)
def test_the_motivo_of_a_complement_given_back_is_the_institutions(settings, expected):
    assert complement_cancel_reason(settings) == expected


@pytest.mark.parametrize("value", ["01", "04", "5"])
def test_a_motivo_that_cannot_cancel_a_complement_given_back_is_refused(value):
    with pytest.raises(LineProblem, match="02 o 03"):
        complement_cancel_reason({"cfdi": {"motivo_cancelacion_complemento": value}})
