"""CFDI documents (satcfdi) and the PAC connector against its simulator."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal as D

import httpx
import pytest
from lxml import etree
from tests.invoicing.support import CSD_PASSWORD, csd_files, pac_sandbox

from puente.enums import PaymentMethodType as M
from puente.enums import ProviderName as P
from puente.invoicing.cfdi import (
    CfdiProblem,
    Issuer,
    Recipient,
    StudentData,
    build_invoice,
    checked_cfdi,
    forma_pago,
    load_signer,
    stamp_data,
)
from puente.invoicing.lines import invoice_lines
from puente.invoicing.pac import CancelReason, PacRefused, PacUnavailable, SwSapienPac
from puente.loans.engine import Component as C
from puente_sandbox.pac import create_pac_sandbox

pytestmark = pytest.mark.anyio

ISSUER = Issuer("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "42501", rvoe="ES4-728")
PARENT = Recipient("CACX7605101P8", "XOCHILT CASAS CHAVEZ", "10740", "605", "D10")
WHEN = datetime(2026, 11, 27, 10, 30)


def signer():
    cer, key = csd_files()
    return load_signer(cer, key, CSD_PASSWORD)


def tuition_invoice():
    lines = invoice_lines({C.FEE: D("3500.00"), C.LATE_INTEREST: D("150.00")}, tuition=True)
    student = StudentData("JUAN PEREZ CASAS", "PECJ150101HDFRSN09", "Primaria")
    return build_invoice(
        issuer=ISSUER,
        recipient=PARENT,
        lines=lines,
        folio="7",
        payment_form="03",
        issued_at=WHEN,
        student=student,
    )


def test_a_tuition_invoice_carries_the_iedu_complement_and_passes_sats_schema():
    xml = checked_cfdi(tuition_invoice(), signer())
    root = etree.fromstring(xml)
    iedu = root.find(".//{http://www.sat.gob.mx/iedu}instEducativas")
    assert iedu is not None
    assert (iedu.get("CURP"), iedu.get("nivelEducativo"), iedu.get("autRVOE")) == (
        "PECJ150101HDFRSN09",
        "Primaria",
        "ES4-728",
    )
    assert root.get("Total") == "3650.00"
    traslado = root.find(".//{http://www.sat.gob.mx/cfd/4}Traslado")
    assert traslado.get("TipoFactor") == "Exento"


def test_a_wrong_csd_password_is_refused_without_echoing_it():
    cer, key = csd_files()
    with pytest.raises(CfdiProblem) as refused:
        load_signer(cer, key, "secreto-equivocado")
    assert "secreto-equivocado" not in str(refused.value)


@pytest.mark.parametrize(
    ("method", "funding", "expected"),
    [
        (M.CASH, "", "01"),
        (M.SPEI, "", "03"),
        (M.CARD, "credit", "04"),
        (M.CARD, "debit", "28"),
        (M.PAYPAL, "", "31"),
    ],
)
def test_forma_pago_follows_how_the_money_arrived(method, funding, expected):
    assert forma_pago(method, P.STRIPE, funding) == expected


async def test_the_simulator_stamps_with_a_tfd_11_and_is_idempotent_by_customid():
    simulator, pac = pac_sandbox()
    xml = checked_cfdi(tuition_invoice(), signer())
    first = await pac.stamp(xml, reference="puente-payment:1")
    again = await pac.stamp(xml, reference="puente-payment:1")
    assert first.uuid == again.uuid and len(simulator.stamped) == 1
    timbre = stamp_data(first.xml)
    assert timbre["UUID"] == first.uuid and timbre["Version"] == "1.1"
    assert timbre["RfcProvCertif"] == "LSO1306189R5" and timbre["SelloSAT"]


async def test_the_simulator_refuses_a_tampered_document():
    _, pac = pac_sandbox()
    xml = checked_cfdi(tuition_invoice(), signer()).replace(b'Total="3650.00"', b'Total="3.00"')
    with pytest.raises(PacRefused):
        await pac.stamp(xml, reference="tampered")


async def test_a_wrong_token_is_a_pac_problem_to_retry_not_a_bad_document():
    app = create_pac_sandbox({"token": "right"}, None)
    pac = SwSapienPac("wrong", base_url="http://pac.test", transport=httpx.ASGITransport(app=app))
    with pytest.raises(PacUnavailable):
        await pac.stamp(b"<x/>", reference="r")


async def test_cancellation_uses_sats_reasons_and_01_needs_its_substitute():
    simulator, pac = pac_sandbox()
    stamped = await pac.stamp(checked_cfdi(tuition_invoice(), signer()), reference="c1")
    with pytest.raises(PacRefused):
        await pac.cancel("EKU9003173C9", stamped.uuid, CancelReason.WITH_ERRORS_RELATED)
    acuse = await pac.cancel("EKU9003173C9", stamped.uuid, CancelReason.NOT_CARRIED_OUT)
    assert (
        "<Motivo>03</Motivo>" in acuse and simulator.stamped[stamped.uuid]["status"] == "cancelado"
    )
    with pytest.raises(PacRefused):
        await pac.cancel("AAA010101AAA", stamped.uuid, CancelReason.NOT_CARRIED_OUT)


def test_a_document_sat_schema_refuses_never_leaves_puente():
    lines = invoice_lines({C.INTEREST: D("100.00"), C.INTEREST_VAT: D("16.00")})
    bad = Recipient("NO-ES-RFC", "ALGUIEN", "10740")
    document = build_invoice(
        issuer=ISSUER, recipient=bad, lines=lines, folio="8", payment_form="03", issued_at=WHEN
    )
    with pytest.raises(CfdiProblem, match="esquema"):
        checked_cfdi(document, signer())
