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
from puente.invoicing.lines import LineProblem, invoice_lines
from puente.invoicing.payments_complement import (
    BilledDocument,
    PaidDocument,
    build_payment_complement,
    metodo_pago,
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
