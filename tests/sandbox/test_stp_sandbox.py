"""The STP simulator: STP's refusals, firma checks, settlement, callbacks and the abono page."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from tests.sandbox.support import Clock, Inbox

from puente.providers.stp_firma import (
    cadena_consulta_orden,
    cadena_orden,
    load_private_key,
    sign_cadena,
)
from puente.providers.stp_mapping import wire_amount
from puente.providers.stp_webhooks import stp_basic_auth
from puente_sandbox.app import create_sandbox_app
from puente_sandbox.stp import StpSimulator, create_stp_sandbox
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = pytest.mark.anyio
KEY = load_private_key(DEFAULT_STP_CREDENTIALS["private_key_pem"])
EMPRESA = DEFAULT_STP_CREDENTIALS["empresa"]
CUENTA = DEFAULT_STP_CREDENTIALS["cuenta"]
CALLBACK_SECRET = "stp:sandbox-callback-1"
CONFIRMAR = {"mensaje": "confirmar"}  # what Puente answers a callback


@dataclass
class Sandbox:
    simulator: StpSimulator
    client: httpx.AsyncClient
    inbox: Inbox
    clock: Clock


@pytest.fixture
async def stp_sandbox() -> AsyncIterator[Sandbox]:
    inbox, clock = Inbox(reply=CONFIRMAR), Clock()
    app = create_stp_sandbox(
        {**DEFAULT_STP_CREDENTIALS, "webhook_secret": CALLBACK_SECRET},
        "http://puente.test/webhooks/stp",
        httpx.MockTransport(inbox.handle),
        clock,
        seed=5,
        balance=Decimal("1000.00"),
        settle_after=30.0,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://stp.test") as client:
        yield Sandbox(app.state.simulator, client, inbox, clock)


def order(*, tamper: dict[str, Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A registra body signed with the sandbox key; ``tamper`` changes it after signing."""
    body: dict[str, Any] = {
        "institucionContraparte": "40012",
        "empresa": EMPRESA,
        "claveRastreo": "PTE0001",
        "institucionOperante": "90646",
        "monto": Decimal("150.00"),
        "tipoPago": 1,
        "tipoCuentaOrdenante": 40,
        "cuentaOrdenante": CUENTA,
        "tipoCuentaBeneficiario": 40,
        "nombreBeneficiario": "Ana Lopez",
        "cuentaBeneficiario": "012180001234567899",
        "rfcCurpBeneficiario": "ND",
        "conceptoPago": "Prestamo",
        "referenciaNumerica": 1234567,
        "topologia": "T",
        "medioEntrega": 3,
        "prioridad": 1,
        **changes,
    }
    body = {k: v for k, v in body.items() if v is not None}
    body["firma"] = sign_cadena(KEY, cadena_orden(body))
    body.update(tamper or {})
    body["monto"] = wire_amount(Decimal(str(body["monto"])))
    return body


async def registra(sandbox: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    response = await sandbox.client.put("/speiws/rest/ordenPago/registra", json=body)
    assert response.status_code == 200  # STP refuses with 200 and a negative id
    return response.json()["resultado"]


async def test_a_signed_order_is_registered_and_a_wrong_firma_refused(
    stp_sandbox: Sandbox,
) -> None:
    assert (await registra(stp_sandbox, order()))["id"] > 0
    tampered = await registra(stp_sandbox, order(claveRastreo="PTE0002", tamper={"monto": 9000}))
    assert tampered == {"descripcionError": "Error validando la firma", "id": 0}
    other_key = {**order(claveRastreo="PTE0003"), "firma": "bm90IGEgc2lnbmF0dXJl"}
    assert (await registra(stp_sandbox, other_key))["id"] == 0


@pytest.mark.parametrize(
    ("changes", "code", "text"),
    [
        ({"conceptoPago": None}, 0, "El campo conceptoPago es obligatorio"),
        ({"claveRastreo": "PTE-0001"}, -34, "Clave rastreo invalida : PTE-0001"),
        ({"monto": Decimal("0.00")}, -20, "El monto 0.0 no es valido"),
        ({"cuentaOrdenante": "646180110400000007"}, -7, "La cuenta 646180110400000007 no existe"),
        ({"tipoCuentaBeneficiario": 7}, -11, "El tipo de cuenta 7 es invalido"),
        ({"institucionContraparte": "40999"}, -9, "La Institucion 40999 no es valida"),
        (
            {"institucionContraparte": "40072"},
            -22,
            "La cuenta 012180001234567899 no coincide para la institucion operante 90646",
        ),
        (
            {"cuentaBeneficiario": CUENTA, "institucionContraparte": "90646"},
            -24,
            f"Cuenta {{{CUENTA}}} - {{MISMA_CUENTA}}",
        ),
    ],
)
async def test_stp_refusals(
    stp_sandbox: Sandbox, changes: dict[str, Any], code: int, text: str
) -> None:
    assert await registra(stp_sandbox, order(**changes)) == {"descripcionError": text, "id": code}


async def test_a_clave_de_rastreo_is_unique_per_operating_day(stp_sandbox: Sandbox) -> None:
    first = await registra(stp_sandbox, order())
    again = await registra(stp_sandbox, order())
    assert again == {"descripcionError": "La clave de rastreo PTE0001 ya fue utilizada", "id": -1}
    stp_sandbox.clock.now += 86_400  # next operating day: the clave is free again
    stp_sandbox.simulator.state.settle_after = None
    assert (await registra(stp_sandbox, order()))["id"] > first["id"]


async def test_orders_settle_after_the_delay_with_an_exito_callback(stp_sandbox: Sandbox) -> None:
    order_id = (await registra(stp_sandbox, order()))["id"]
    assert stp_sandbox.inbox.received == []
    stp_sandbox.clock.now += 31
    firma = sign_cadena(KEY, cadena_consulta_orden(EMPRESA, "PTE0001", "E"))
    consulta = {"empresa": EMPRESA, "claveRastreo": "PTE0001", "tipoOrden": "E", "firma": firma}
    response = await stp_sandbox.client.post("/efws/API/consultaOrden", json=consulta)
    assert response.json()["respuesta"]["estado"] == "LQ"
    assert response.json()["respuesta"]["idEF"] == order_id
    (callback,) = stp_sandbox.inbox.received
    assert callback.headers["Authorization"] == stp_basic_auth(CALLBACK_SECRET)
    assert json.loads(callback.content) == {
        "id": order_id,
        "empresa": EMPRESA,
        "folioOrigen": "PTE0001",
        "estado": "Exito",
        "causaDevolucion": None,
        "tsLiquidacion": int(stp_sandbox.clock.now * 1000),
    }
    assert stp_sandbox.simulator.state.balance == Decimal("850.00")


async def test_return_clabe_and_insufficient_balance(stp_sandbox: Sandbox) -> None:
    await registra(stp_sandbox, order(cuentaBeneficiario="014180000000000000", **_santander()))
    await registra(stp_sandbox, order(claveRastreo="PTE0009", monto=Decimal("5000.00")))
    stp_sandbox.simulator.settle()
    await stp_sandbox.client.get("/_references")  # any request flushes the callbacks
    estados = [(b["estado"], b["causaDevolucion"]) for b in stp_sandbox.inbox.bodies()]
    assert estados == [("Devuelto", 1), ("Cancelado", None)]
    assert stp_sandbox.simulator.state.balance == Decimal("1000.00")


def _santander() -> dict[str, str]:
    return {"institucionContraparte": "40014"}


async def test_consultas_need_their_own_firma(stp_sandbox: Sandbox) -> None:
    bad = {"empresa": EMPRESA, "claveRastreo": "X", "tipoOrden": "E", "firma": "AAAA"}
    response = await stp_sandbox.client.post("/efws/API/consultaOrden", json=bad)
    assert response.status_code == 400 and response.json()["mensaje"] == "Error validando la firma"
    firma = sign_cadena(KEY, cadena_consulta_orden(EMPRESA, "NOPE", "E"))
    missing = {"empresa": EMPRESA, "claveRastreo": "NOPE", "tipoOrden": "E", "firma": firma}
    response = await stp_sandbox.client.post("/efws/API/consultaOrden", json=missing)
    assert response.status_code == 400 and response.json()["estado"] == 6


async def test_injected_faults_answer_like_stp(stp_sandbox: Sandbox) -> None:
    stp_sandbox.simulator.faults.fail_next = 1
    response = await stp_sandbox.client.put("/speiws/rest/ordenPago/registra", json=order())
    assert response.status_code == 503
    assert response.json()["resultado"]["id"] == 0
    assert stp_sandbox.simulator.state.orders() == []  # nothing happened


async def test_outgoing_orders_can_be_settled_or_returned_from_references(
    stp_sandbox: Sandbox,
) -> None:
    one = (await registra(stp_sandbox, order()))["id"]
    two = (await registra(stp_sandbox, order(claveRastreo="PTE0002")))["id"]
    listed = (await stp_sandbox.client.get("/_references")).json()["data"]
    assert {(r["id"], r["method"]) for r in listed} == {
        (str(one), "spei-out"),
        (str(two), "spei-out"),
    }
    assert (await stp_sandbox.client.post(f"/_references/{one}/pay")).status_code == 200
    assert (await stp_sandbox.client.post(f"/_references/{two}/expire")).status_code == 200
    assert [b["estado"] for b in stp_sandbox.inbox.bodies()] == ["Exito", "Devuelto"]
    assert (await stp_sandbox.client.post(f"/_references/{one}/pay")).status_code == 409


async def test_an_abono_is_announced_on_the_index_page_and_paid_by_a_person() -> None:
    inbox = Inbox(reply=CONFIRMAR)
    sandbox = create_sandbox_app(
        {"stp": {**DEFAULT_STP_CREDENTIALS, "webhook_secret": CALLBACK_SECRET}},
        "http://127.0.0.1:8000/webhooks",
        transport=httpx.MockTransport(inbox.handle),
        seed=2,
    )
    demo = Starlette(routes=[Mount("/sandbox", app=sandbox)])
    transport = httpx.ASGITransport(app=demo)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        form = await c.get("/sandbox/stp/_abonos")
        assert 'action="/sandbox/stp/_abonos"' in form.text
        created = await c.post(
            "/sandbox/stp/_abonos",
            data={"monto": "1500.00", "referenciaNumerica": "7654321", "next": "/sandbox/"},
        )
        assert created.status_code == 303 and created.headers["location"] == "/sandbox/"
        index = (await c.get("/sandbox/")).text
        (reference,) = sandbox.state.simulators["stp"].pending_references()
        assert f"/sandbox/stp/_references/{reference.id}/pay" in index
        assert reference.clabe and reference.clabe.startswith(CUENTA[:10])
        paid = await c.post(
            f"/sandbox/stp/_references/{reference.id}/pay", data={"next": "/sandbox/"}
        )
        assert paid.status_code == 303
    (callback,) = inbox.received
    assert str(callback.url) == "http://127.0.0.1:8000/webhooks/stp"
    abono = json.loads(callback.content)
    assert abono["monto"] == 1500.0 and abono["referenciaNumerica"] == 7654321
    assert abono["cuentaBeneficiario"] == reference.clabe
    assert abono["institucionBeneficiaria"] == 90646 and abono["tsLiquidacion"] > 0
    assert sandbox.state.simulators["stp"].pending_references() == []
