"""Fidelity to published samples where no official SDK exists: STP's callbacks and firma,
Openpay's API objects. The fixtures (``fixtures/*.json``) are transcribed from the providers'
documentation, not produced by our code, so the simulators and the connectors are both held
to them rather than to each other.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from tests.sandbox.support import Clock, Inbox

from puente.providers.stp_firma import cadena_orden
from puente_sandbox.formats import stp_cadena_orden
from puente_sandbox.openpay import create_openpay_sandbox
from puente_sandbox.stp import create_stp_sandbox
from puente_sandbox.stp_keys import DEFAULT_STP_CREDENTIALS

pytestmark = pytest.mark.anyio
FIXTURES = Path(__file__).parent / "fixtures"
STP = json.loads((FIXTURES / "stp_documented.json").read_text())
OPENPAY = json.loads((FIXTURES / "openpay_documented.json").read_text())


def _kind(value: Any) -> str:
    """A JSON value's kind in the fixture's words (``number``: an amount, int or float)."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return "int"
    return {float: "number", str: "str"}.get(type(value), type(value).__name__)


def test_stp_cadena_orden_is_the_documented_one_on_both_sides() -> None:
    orden = {**STP["orden"], "monto": Decimal(STP["orden"]["monto"])}
    assert stp_cadena_orden(orden).decode() == STP["orden_cadena"]
    assert cadena_orden(orden) == STP["orden_cadena"]  # the connector, against the same text


async def test_stp_abono_callback_has_the_documented_fields_and_types() -> None:
    inbox = Inbox(reply={"mensaje": "confirmar"})
    app = create_stp_sandbox(
        DEFAULT_STP_CREDENTIALS,
        "http://puente.test/webhooks/stp",
        httpx.MockTransport(inbox.handle),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stp.test"
    ) as client:
        await client.post("/_abonos", data={"monto": "99.50", "referenciaNumerica": "42"})
        (reference,) = app.state.simulator.pending_references()
        assert (await client.post(f"/_references/{reference.id}/pay")).status_code == 200
    (abono,) = inbox.bodies()
    kinds = {name: _kind(abono.get(name)) for name in STP["abono_fields"]}
    # A documented "number" may be written without decimals (1500 for 1500.00).
    assert {
        n: "number" if k == "int" and STP["abono_fields"][n] == "number" else k
        for n, k in kinds.items()
    } == STP["abono_fields"]
    assert abono["institucionBeneficiaria"] == 90646 and abono["monto"] == 99.5


def _signed(orden: dict[str, Any]) -> dict[str, Any]:
    """A registra body signed here, from the documented cadena, with the sandbox's test key."""
    key = serialization.load_pem_private_key(
        DEFAULT_STP_CREDENTIALS["private_key_pem"].encode(), None
    )
    cadena = STP["orden_cadena"].encode()
    firma = key.sign(cadena, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg]
    return {**orden, "firma": base64.b64encode(firma).decode()}


async def test_stp_accepts_a_firma_over_the_documented_cadena_and_reports_estado() -> None:
    inbox, clock = Inbox(reply={"mensaje": "recibido"}), Clock()
    clock.now = 1_800_000_000.0
    app = create_stp_sandbox(
        DEFAULT_STP_CREDENTIALS,
        "http://puente.test/webhooks/stp",
        httpx.MockTransport(inbox.handle),
        clock,
        settle_after=1.0,
    )
    orden = {**STP["orden"], "monto": 150.0}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://stp.test"
    ) as client:
        answer = (await client.put("/speiws/rest/ordenPago/registra", json=_signed(orden))).json()
        assert answer["resultado"]["id"] > 0, answer
        clock.now += 5
        await client.get("/_references")
        await client.post("/_settle")
    (estado,) = inbox.bodies()
    assert set(STP["estado_fields"]) <= set(estado) and estado["id"] == answer["resultado"]["id"]


@pytest.fixture
async def openpay() -> Any:
    inbox = Inbox()
    credentials = {"merchant_id": "mdocs0000000000000001", "private_key": "sk_docs_0001"}
    credentials |= {"webhook_user": "u", "webhook_password": "p"}
    app = create_openpay_sandbox(
        credentials, "http://puente.test/webhooks/openpay", httpx.MockTransport(inbox.handle)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://openpay.test/v1/mdocs0000000000000001",
        auth=("sk_docs_0001", ""),
    ) as client:
        yield client, inbox


async def test_openpay_charges_have_the_documented_fields(openpay: Any) -> None:
    client, inbox = openpay
    card = {"method": "card", "source_id": "tok_test_4111111111111111", "amount": "150.00"}
    card |= {"description": "Colegiatura", "device_session_id": "docs"}
    charge = (await client.post("/charges", json=card)).json()
    documented = OPENPAY["card_charge"]
    assert set(documented["fields"]) <= set(charge)
    assert {k: charge[k] for k in documented["values"]} == documented["values"]
    for method, key in (("bank_account", "spei_payment_method"), ("store", "store_payment_method")):
        body = {"method": method, "amount": "500.00", "description": "Colegiatura"}
        payment_method = (await client.post("/charges", json=body)).json()["payment_method"]
        assert set(OPENPAY[key]["fields"]) <= set(payment_method)
        assert payment_method["type"] == OPENPAY[key]["type"]
    assert all(set(OPENPAY["webhook_fields"]) <= set(b) for b in inbox.bodies())
    error = (await client.get("/charges/tr_nope")).json()
    assert set(OPENPAY["error_fields"]) <= set(error)
