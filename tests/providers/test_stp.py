"""The STP connector: the exact signed registra on the wire, consultas, and every answer mapped."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from tests.providers.support import answer, recording

from puente.providers.base import (
    AuthenticationError,
    InvalidRequest,
    MalformedResponse,
    MovementDirection,
    NotFound,
    PaymentDeclined,
    ProviderConfig,
    ProviderConfigError,
    ProviderUnavailable,
    SpeiTransferRequest,
    TransferStatus,
)
from puente.providers.circuit import CircuitBreakers
from puente.providers.metrics import ProviderMetrics
from puente.providers.stp import StpConnector, StpPaths
from puente.providers.stp_firma import cadena_orden, load_private_key
from puente.providers.stp_mapping import clave_rastreo_for, referencia_numerica_for

pytestmark = pytest.mark.anyio

# A throwaway 1024-bit key (STP's demo keys are 1024-bit too); RSA PKCS#1 v1.5 is deterministic,
# so the firma of a fixed cadena is a fixed string.
KEY_PEM = """\
-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDiOydcf5SwH/AfsRmSs9xO5/oBrSCyuruBGpTquV5wfllj3eG1
38WI82iwXWfWNjQ6UxtWl7sPyjCVO1j0MOGWVAG47GolmV13OtGDKH+m29XZoLBQ
YGwkElbnJleeBnXApMVluWL6Dis0m9BKQStDjRUsiPRw6eswoBxtozQCQQIDAQAB
AoGBAJn0NYIeFFqTMX7vr36FRdywwxMW9VSL/QQLyeG+ikU1xrFOksaJZM0hEFJN
DlfZhUtXuRgBo7xIFS3JOGzdQvYZ3lHnAIBhYB3jn7TsbH4RCFyE5vUpSPr47T9A
kMfSeTjXDqG7goBzl5FwrNBS6BQXdC3uj6om4e4j27hSqqyNAkEA81rl3Vj1Df62
WyqJ+xW1idzOnrUql87Ru+TUvsm1X7JvSAjqM9qH75c3Ob6glSx0x99QvHB6gqc0
OnooRl6XSwJBAO38eQ8WeViVzIKbyGo+j/dUVFRZDeRoMLrz0ZbM50uZcru1TwSt
42YJJM9dFj8NhnFbvCHw6PxbW/bRRmwdGSMCQQCBr2YiEF7/Z0bszH2dpdMJtfcS
Ur9xCRFyDR9m0P1sEx4EiGOu4H1iq/YNOs4+0OMnBJX05ggTimFl7GV8IrqDAkEA
7Pkb6oQsbKMtM1i/5dtKK7OTDTJn/Ooqq94g8xIxtjuj3Xmap0QnTPEJ8Fn2zu4+
0x3PZdSnirHGDy0v/HO1FQJAGUu8oPOQUeVT2rnjFHv/IipE70yYBm0Aymlnk/aZ
HI0hZOUioWFkLfLzkUIMCMXStOS74qP8rxSWPhXt11WugA==
-----END RSA PRIVATE KEY-----
"""
CREDENTIALS = {"empresa": "TAMIZI", "private_key_pem": KEY_PEM, "cuenta": "646180110400000007"}
# The cadena stpmex-python's own test pins for this order (tests/test_auth.py, prioridad alta).
CADENA = (
    "||40072|TAMIZI|||CR1564969083|90646|1.20|1|40||646180110400000007|"
    "|40|Ricardo Sanchez|072691004495711499|ND||||||Prueba||||||5273144|"
    "|T||3|1|||"
)
FIRMA = (
    "UIbJY65vAWkvU7cJrnw9Zp1cy/NLtqybV2Wnf6tIeb6x6wGZXEtXMWHyh3aFJ9aNtn9GkMWkZQDTScbQKGfvuDb"
    "ujYG6LZ/r95lftCX2D+Kez+giEZz3wYcnqpNXy78PiNrpNK4lTNbSuNcqfdNy1ShUSWrrachjO6nFEa4y8D8="
)
ORDER = SpeiTransferRequest(
    amount=Decimal("1.20"),
    clabe="072691004495711499",
    beneficiary_name="Ricardo Sanchez",
    concept="Prueba",
    idempotency_key="CR1564969083",
    reference="5273144",
)
Handler = Callable[[httpx.Request], httpx.Response]


def stp(handler: Handler, **extra: str) -> StpConnector:
    async def sleep(seconds: float) -> None:
        return None

    return StpConnector(
        ProviderConfig(
            credentials={**CREDENTIALS, **extra}, transport=httpx.MockTransport(handler)
        ),
        metrics=ProviderMetrics(),
        breakers=CircuitBreakers(),
        sleep=sleep,
        random=lambda: 0.0,
    )


def orden_row(**changes: Any) -> dict[str, Any]:
    row = {
        "idEF": 3,
        "claveRastreo": "CR1564969083",
        "conceptoPago": "Prueba",
        "cuentaBeneficiario": "072691004495711499",
        "cuentaOrdenante": "646180110400000007",
        "empresa": "TAMIZI",
        "estado": "LQ",
        "fechaOperacion": 20230518,
        "institucionContraparte": 40072,
        "institucionOperante": 90646,
        "monto": 1.20,
        "nombreBeneficiario": "Ricardo Sanchez",
        "referenciaNumerica": 5273144,
        "tsCaptura": 1684442273848,
        "tsLiquidacion": 1684442280000,
        "causaDevolucion": None,
    }
    return {**row, **changes}


async def test_registra_sends_the_exact_signed_stp_request() -> None:
    handler, seen = recording(lambda request: answer({"resultado": {"id": 3}}))

    async with stp(handler) as connector:
        transfer = await connector.send_spei(ORDER)
    (request,) = seen
    assert request.method == "PUT"
    assert str(request.url) == "https://prod.stpmex.com/speiws/rest/ordenPago/registra"
    assert request.headers["Content-Type"] == "application/json"
    assert "Authorization" not in request.headers  # STP authenticates by the firma alone
    assert "Idempotency-Key" not in request.headers  # the clave de rastreo plays that part
    assert request.content == (
        b'{"institucionContraparte":"40072","empresa":"TAMIZI","claveRastreo":"CR1564969083",'
        b'"institucionOperante":"90646","monto":1.2,"tipoPago":1,"tipoCuentaOrdenante":40,'
        b'"cuentaOrdenante":"646180110400000007","tipoCuentaBeneficiario":40,'
        b'"nombreBeneficiario":"Ricardo Sanchez","cuentaBeneficiario":"072691004495711499",'
        b'"rfcCurpBeneficiario":"ND","conceptoPago":"Prueba","referenciaNumerica":5273144,'
        b'"topologia":"T","medioEntrega":3,"prioridad":1,"firma":"' + FIRMA.encode() + b'"}'
    )
    public = load_private_key(KEY_PEM).public_key()
    public.verify(base64.b64decode(FIRMA), CADENA.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert transfer.provider_id == "3"
    assert transfer.status is TransferStatus.PENDING
    assert transfer.clave_rastreo == "CR1564969083"
    assert transfer.amount == Decimal("1.20")


def test_cadena_original_matches_stpmex_python() -> None:
    body = json.loads(
        '{"institucionContraparte":"40072","empresa":"TAMIZI","claveRastreo":"CR1564969083",'
        '"institucionOperante":"90646","monto":1.2,"tipoPago":1,"tipoCuentaOrdenante":40,'
        '"cuentaOrdenante":"646180110400000007","tipoCuentaBeneficiario":40,'
        '"nombreBeneficiario":"Ricardo Sanchez","cuentaBeneficiario":"072691004495711499",'
        '"rfcCurpBeneficiario":"ND","conceptoPago":"Prueba","referenciaNumerica":5273144,'
        '"topologia":"T","medioEntrega":3,"prioridad":1}',
        parse_float=Decimal,
    )
    assert cadena_orden(body) == CADENA
    assert cadena_orden({**body, "prioridad": 0}).endswith("|3|0|||")  # a zero is kept


def test_clave_rastreo_and_referencia_are_deterministic_and_within_stp_limits() -> None:
    assert clave_rastreo_for("CR1564969083") == "CR1564969083"
    derived = clave_rastreo_for("disbursement:loan-42:attempt-1")
    assert derived == clave_rastreo_for("disbursement:loan-42:attempt-1")
    assert derived.isalnum() and len(derived) <= 30 and derived.startswith("PTE")
    assert derived != clave_rastreo_for("disbursement:loan-42:attempt-2")
    reference = referencia_numerica_for("disbursement:loan-42:attempt-1", None)
    assert 0 < reference <= 9_999_999
    with pytest.raises(InvalidRequest):
        referencia_numerica_for("k", "12345678")


async def test_retry_after_a_lost_answer_returns_the_order_already_registered() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/registra"):
            used = "La clave de rastreo CR1564969083 ya fue utilizada"
            return answer({"resultado": {"descripcionError": used, "id": -1}})
        return answer({"estado": 0, "mensaje": "ok", "respuesta": orden_row(estado="A")})

    handler, seen = recording(reply)

    async with stp(handler) as connector:
        transfer = await connector.send_spei(ORDER)
    assert [r.url.path for r in seen] == [
        "/speiws/rest/ordenPago/registra",
        "/efws/API/consultaOrden",
    ]
    assert json.loads(seen[1].content) == {
        "empresa": "TAMIZI",
        "claveRastreo": "CR1564969083",
        "tipoOrden": "E",
        "firma": json.loads(seen[1].content)["firma"],
    }
    assert transfer.provider_id == "3" and transfer.status is TransferStatus.PENDING


async def test_a_used_clave_with_another_amount_is_refused_not_merged() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/registra"):
            return answer({"resultado": {"descripcionError": "ya fue utilizada", "id": -1}})
        return answer({"estado": 0, "mensaje": "ok", "respuesta": orden_row(monto=99.00)})

    async with stp(handler) as connector:
        with pytest.raises(InvalidRequest) as caught:
            await connector.send_spei(ORDER)
    assert caught.value.provider_code == "-1"


@pytest.mark.parametrize(
    ("code", "message", "error_class"),
    [
        (0, "Error validando la firma", AuthenticationError),
        (0, "El campo conceptoPago es obligatorio", InvalidRequest),
        (0, "No se recibió respuesta del servicio", ProviderUnavailable),
        (-7, "La cuenta 646180110400000007 no existe", InvalidRequest),
        (-9, "La Institucion 40999 no es valida", InvalidRequest),
        (-11, "El tipo de cuenta 7 es invalido", InvalidRequest),
        (-20, "El monto 0.00 no es valido", InvalidRequest),
        (-22, "La cuenta X no coincide para la institucion operante 90646", InvalidRequest),
        (-24, "Cuenta {646180110400000007} - {MISMA_CUENTA}", InvalidRequest),
        (-34, "Clave rastreo invalida : CR-1", InvalidRequest),
        (-200, "Se rechaza por PLD", PaymentDeclined),
    ],
)
async def test_registra_refusals_keep_stp_id_and_text(
    code: int, message: str, error_class: type
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return answer({"resultado": {"descripcionError": message, "id": code}})

    async with stp(handler) as connector:
        with pytest.raises(error_class) as caught:
            await connector.send_spei(ORDER)
    assert type(caught.value) is error_class
    assert caught.value.provider_code == str(code)
    # STP's own words, with our credential values (the empresa's CLABE) masked as everywhere.
    assert caught.value.provider_message == message.replace(CREDENTIALS["cuenta"], "****0007")


async def test_an_invalid_clabe_never_reaches_stp() -> None:
    calls: list[httpx.Request] = []

    async with stp(lambda r: calls.append(r) or answer({})) as connector:
        bad = SpeiTransferRequest(
            amount=Decimal("10.00"),
            clabe="072691004495711498",  # wrong check digit
            beneficiary_name="Ricardo Sanchez",
            concept="Prueba",
            idempotency_key="k-1",
        )
        with pytest.raises(InvalidRequest) as caught:
            await connector.send_spei(bad)
    assert calls == []
    assert caught.value.provider_code == "clabe"


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>gateway</html>"),
        httpx.Response(200, json={"something": "else"}),
        httpx.Response(200, json={"resultado": {"id": "x"}}),
    ],
)
async def test_unreadable_registra_answers_are_malformed_not_crashes(
    response: httpx.Response,
) -> None:
    async with stp(lambda r: response) as connector:
        with pytest.raises(MalformedResponse):
            await connector.send_spei(ORDER)


async def test_5xx_is_retried_with_the_same_clave_and_body() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if len(bodies) < 3:
            return httpx.Response(503, text="Service Unavailable")
        return answer({"resultado": {"id": 11}})

    async with stp(handler) as connector:
        transfer = await connector.send_spei(ORDER)
    assert len(bodies) == 3 and len(set(bodies)) == 1
    assert transfer.provider_id == "11"


@pytest.mark.parametrize(
    ("estado", "status"),
    [
        ("A", TransferStatus.PENDING),
        ("PL", TransferStatus.PENDING),
        ("LQ", TransferStatus.SUCCEEDED),
        ("D", TransferStatus.RETURNED),
        ("CN", TransferStatus.FAILED),
        ("RB", TransferStatus.FAILED),
    ],
)
async def test_consulta_estados_are_mapped(estado: str, status: TransferStatus) -> None:
    row = orden_row(estado=estado, causaDevolucion=1 if estado == "D" else None)

    async with stp(lambda r: answer({"estado": 0, "mensaje": "ok", "respuesta": row})) as c:
        transfer = await c.get_transfer("CR1564969083")
    assert transfer.status is status
    assert transfer.raw_status == estado
    if estado == "D":
        assert transfer.failure_message == "Cuenta inexistente"


async def test_unknown_estado_and_not_found_are_normalised() -> None:
    async with stp(lambda r: answer({"estado": 0, "respuesta": orden_row(estado="ZZ")})) as c:
        with pytest.raises(MalformedResponse) as caught:
            await c.get_transfer("CR1564969083")
    assert caught.value.provider_code == "ZZ"
    not_found = {"estado": 6, "mensaje": "No se encontraron datos relacionados"}
    async with stp(lambda r: answer(not_found, 400)) as c:
        with pytest.raises(NotFound) as missing:
            await c.get_transfer("NOPE1")
    assert missing.value.provider_code == "6"


async def test_consulta_orden_request_with_a_past_operating_day() -> None:
    handler, seen = recording(
        lambda request: answer({"estado": 0, "mensaje": "ok", "respuesta": orden_row()})
    )

    paths = StpPaths.demo()
    connector = stp(handler)
    connector.paths = paths
    async with connector:
        await connector.get_transfer("CR1564969083", fecha=datetime(2023, 5, 18).date())
    (request,) = seen
    assert str(request.url) == "https://efws-dev.stpmex.com/efws/API/consultaOrden"
    body = json.loads(request.content)
    assert body["fechaOperacion"] == "20230518" and body["tipoOrden"] == "E"
    public = load_private_key(KEY_PEM).public_key()
    public.verify(
        base64.b64decode(body["firma"]),
        b"||TAMIZI|CR1564969083|E|20230518||",
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


async def test_balance_subtracts_pending_charges() -> None:
    saldo = {"estado": 0, "mensaje": "ok", "respuesta": {"saldo": 20479.69, "cargosPendientes": 10}}
    handler, seen = recording(lambda r: answer(saldo))

    async with stp(handler) as connector:
        balance = await connector.get_balance()
    assert balance.ledger == Decimal("20479.69")
    assert balance.available == Decimal("20469.69")
    assert balance.account.endswith("0007") and "646180110400000007" not in balance.account
    assert json.loads(seen[0].content)["cuentaOrdenante"] == "646180110400000007"


async def test_movements_page_through_conciliacion_and_keep_what_moved() -> None:
    requests: list[dict[str, Any]] = []
    sent = [orden_row(idEF=n, claveRastreo=f"CR{n}") for n in range(1000)]
    sent[5]["estado"] = "D"  # returned: no money left the account
    received = orden_row(idEF=5000, claveRastreo="BB1", nombreOrdenante="ANA", monto=500)

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        if body["tipoOrden"] == "E":
            rows = sent if body["page"] == 0 else [orden_row(idEF=7777, claveRastreo="CRX")]
            return answer({"estado": 0, "mensaje": "ok", "total": 1001, "datos": rows})
        return answer({"estado": 0, "mensaje": "ok", "total": 1, "datos": [received]})

    since = datetime(2023, 5, 18, 6, 0, tzinfo=UTC)
    until = datetime(2023, 5, 19, 4, 0, tzinfo=UTC)  # still the 18th in Mexico City
    async with stp(handler) as connector:
        movements = await connector.list_movements(since, until=until)
    assert [(r["tipoOrden"], r["page"], r["fechaOperacion"]) for r in requests] == [
        ("E", 0, "20230518"),
        ("E", 1, "20230518"),
        ("R", 0, "20230518"),
    ]
    debits = [m for m in movements if m.direction is MovementDirection.DEBIT]
    credits = [m for m in movements if m.direction is MovementDirection.CREDIT]
    assert len(debits) == 1000  # 999 settled on page one, one on page two
    assert credits[0].amount == Decimal("500.00") and credits[0].counterparty_name == "ANA"


def test_unreadable_keys_are_config_errors_without_the_key() -> None:
    with pytest.raises(ProviderConfigError) as caught:
        StpConnector(ProviderConfig(credentials={**CREDENTIALS, "private_key_pem": "nope"}))
    assert "nope" not in str(caught.value)
    with pytest.raises(ProviderConfigError, match="allowlist"):
        StpConnector(ProviderConfig(credentials={**CREDENTIALS, "webhook_allowlist": "10.0.0/x"}))


async def test_account_holder_is_checked_locally() -> None:
    async with stp(lambda r: answer({})) as connector:
        good = await connector.validate_account_holder("072691004495711499", name="X")
        bad = await connector.validate_account_holder("072691004495711498")
    assert good.valid and good.bank_name and good.name_matches is None
    assert not bad.valid
