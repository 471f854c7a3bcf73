"""CEP of received SPEI: cepmex against the Banxico simulator served over real HTTP."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from tests.support import factories

from puente.cep.banxico import BanxicoCep, CepQuery
from puente.cep.models import CepCheck, CepStatus
from puente.cep.service import (
    BACKOFF,
    cep_query_from_event,
    cep_xml,
    check_due_ceps,
    open_cep_checks,
)
from puente.compliance.models import AmlAlert
from puente.compliance.monitoring_service import drain_monitoring
from puente.enums import PaymentMethodType, ProviderName
from puente.enums import PaymentStatus as S
from puente.invoicing.worker import run_fiscal_once
from puente.payments.outcomes import advance_and_notify
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio

CLABE = "646180157000000012"


def abono(clave: str, monto: str = "1240.35") -> dict:
    return {
        "id": 9001,
        "fechaOperacion": 20261127,
        "institucionOrdenante": 40012,
        "institucionBeneficiaria": 90646,
        "claveRastreo": clave,
        "monto": float(monto),
        "nombreOrdenante": "ANA PRUEBA",
        "cuentaOrdenante": "012180001234567899",
        "cuentaBeneficiario": CLABE,
    }


async def stp_payment(runtime, clave: str):
    inst = await factories.institution()
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    await ProviderEvent.create(
        provider=ProviderName.STP,
        event_id="abono:9001",
        event_type="abono",
        institution_id=inst.id,
        raw_body=json.dumps(abono(clave)),
    )
    payment = await factories.payment(
        loan, key=f"stp-{clave}", provider=ProviderName.STP, provider_reference="abono:9001"
    )
    await advance_and_notify(runtime, payment.id, S.PAID, source="test", at=runtime.now())
    await drain_monitoring()
    return payment


def register(simulator, clave: str, *, nombre: str = "ANA PRUEBA", visible: bool = True):
    simulator.register(
        {
            "clave_rastreo": clave,
            "fecha": "2026-11-27",
            "emisor": "40012",
            "receptor": "90646",
            "cuenta": CLABE,
            "monto": "1240.35",
            "ordenante_nombre": nombre,
            "ordenante_rfc": "ND",
            "visible": visible,
        }
    )


def test_an_stp_abono_names_the_transfer_as_banxico_knows_it():
    query = cep_query_from_event(ProviderName.STP, abono("SBX1"), 124035, date(2026, 11, 27))
    assert query == CepQuery(date(2026, 11, 27), "SBX1", "40012", "90646", CLABE, 124035)


def test_a_gateway_notification_without_tracking_key_gives_no_query():
    body = {"data": {"object": {"type": "mx_bank_transfer", "reference": "REF1"}}}
    assert cep_query_from_event(ProviderName.STRIPE, body, 100, date(2026, 11, 27)) is None
    with_tracking = {
        "data": {
            "clave_rastreo": "BB1",
            "sender_bank_code": "40002",
            "receiver_bank_code": "40012",
            "clabe": CLABE,
        }
    }
    query = cep_query_from_event(ProviderName.OPENPAY, with_tracking, 100, date(2026, 11, 27))
    assert query is not None and query.emisor == "40002"


async def test_cepmex_finds_a_settled_transfer_and_the_xml_is_kept(db, runtime, banxico):
    simulator, base = banxico
    payment = await stp_payment(runtime, "SBXVALID001")
    register(simulator, "SBXVALID001")
    await open_cep_checks(runtime)

    validated = await check_due_ceps(runtime, BanxicoCep(base))

    check = await CepCheck.get(payment_id=payment.id)
    assert validated == [payment.id] and check.status == CepStatus.VALIDATED
    assert check.ordenante_name == "ANA PRUEBA"
    assert b"<SPEI_Tercero" in cep_xml(runtime, check)
    assert "SPEI_Tercero" not in check.xml_enc  # stored encrypted


async def test_not_found_yet_is_retried_and_never_an_alert(db, runtime, banxico):
    simulator, base = banxico
    payment = await stp_payment(runtime, "SBXLATE0001")
    register(simulator, "SBXLATE0001", visible=False)
    await open_cep_checks(runtime)
    now = runtime.now()

    assert await check_due_ceps(runtime, BanxicoCep(base), now=now) == []
    check = await CepCheck.get(payment_id=payment.id)
    assert check.status == CepStatus.PENDING and check.attempts == 1
    assert check.next_attempt_at == now + timedelta(seconds=BACKOFF[0])
    assert await check_due_ceps(runtime, BanxicoCep(base), now=now) == []  # not due yet
    assert (await CepCheck.get(id=check.id)).attempts == 1

    register(simulator, "SBXLATE0001")  # Banxico publishes it
    later = now + timedelta(seconds=BACKOFF[0])
    assert await check_due_ceps(runtime, BanxicoCep(base), now=later) == [payment.id]
    assert not await AmlAlert.filter(rule="CEP_ORDENANTE_MISMATCH").exists()


async def test_after_the_last_retry_it_is_left_for_staff_as_not_found(db, runtime, banxico):
    _, base = banxico
    payment = await stp_payment(runtime, "SBXNEVER001")
    await open_cep_checks(runtime)
    moment = runtime.now()
    for _ in range(len(BACKOFF) + 1):
        await check_due_ceps(runtime, BanxicoCep(base), now=moment)
        moment += timedelta(days=2)
    check = await CepCheck.get(payment_id=payment.id)
    assert check.status == CepStatus.NOT_FOUND
    assert not await AmlAlert.filter(rule="CEP_ORDENANTE_MISMATCH").exists()


async def test_a_third_party_ordenante_on_the_cep_raises_the_aml_alert(db, runtime, banxico):
    simulator, base = banxico
    payment = await stp_payment(runtime, "SBXOTHER001")
    register(simulator, "SBXOTHER001", nombre="ROBERTO GOMEZ SANCHEZ")

    class NoPac:
        async def stamp(self, xml, *, reference):
            raise AssertionError("no CSD: nothing is invoiced")

    report = await run_fiscal_once(runtime, NoPac(), BanxicoCep(base))

    assert report.ceps_validated == 1
    alert = await AmlAlert.get(rule="CEP_ORDENANTE_MISMATCH")
    assert payment.id in alert.payment_ids


async def test_a_spei_without_tracking_data_is_recorded_as_sin_datos(db, runtime):
    inst = await factories.institution()
    borrower = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, borrower)
    payment = await factories.payment(loan, key="stripe-spei", method=PaymentMethodType.SPEI)
    await advance_and_notify(runtime, payment.id, S.PAID, source="test", at=runtime.now())
    await drain_monitoring()
    assert await open_cep_checks(runtime) == 1
    assert (await CepCheck.get(payment_id=payment.id)).status == CepStatus.NO_DATA
