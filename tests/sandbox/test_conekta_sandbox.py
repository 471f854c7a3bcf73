"""The Conekta simulator on the wire: auth, versions, orders, idempotency, webhooks, admin."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from tests.sandbox.support import Clock, Inbox

from puente.providers.conekta_webhooks import load_conekta_webhook_keys, verify_conekta_signature
from puente_sandbox.app import create_sandbox_app
from puente_sandbox.conekta import ConektaSimulator, create_conekta_sandbox

pytestmark = pytest.mark.anyio

KEY = "key_sandbox_tests_0123456789"
ACCEPT = "application/vnd.conekta-v2.2.0+json"
PAYER = {"name": "Ana López", "email": "ana@example.mx", "phone": "5512345678"}


@dataclass
class Sandbox:
    simulator: ConektaSimulator
    client: httpx.AsyncClient
    inbox: Inbox
    clock: Clock
    sleeps: list[float]


@pytest.fixture
async def conekta() -> AsyncIterator[Sandbox]:
    inbox, clock, sleeps = Inbox(), Clock(), []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    app = create_conekta_sandbox(
        {"private_key": KEY},
        "http://puente.test/webhooks/conekta",
        httpx.MockTransport(inbox.handle),
        clock,
        sleep=sleep,
        seed=5,
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://conekta.test",
        headers={"Authorization": f"Bearer {KEY}", "Accept": ACCEPT},
    )
    async with client:
        yield Sandbox(app.state.simulator, client, inbox, clock, sleeps)


def order(method: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "currency": "MXN",
        "customer_info": PAYER,
        "line_items": [{"name": "Colegiatura", "unit_price": 150000, "quantity": 1}],
        "charges": [{"payment_method": method}],
        **extra,
    }


CARD = {"type": "card", "token_id": "tok_test_visa_4242"}


async def test_missing_or_wrong_keys_get_conektas_401(conekta: Sandbox) -> None:
    none = await conekta.client.post("/orders", json=order(CARD), headers={"Authorization": ""})
    wrong = await conekta.client.post(
        "/orders", json=order(CARD), headers={"Authorization": "Bearer key_wrong_000"}
    )
    assert none.status_code == wrong.status_code == 401
    body = none.json()
    assert body["object"] == "error" and body["type"] == "authentication_error"
    assert body["details"][0]["code"] == "conekta.errors.authentication.missing_key"
    assert len(body["log_id"]) == 24
    assert wrong.json()["details"][0]["code"] == "conekta.errors.authentication.unrecognized_key"


async def test_basic_auth_with_the_key_as_user_also_works(conekta: Sandbox) -> None:
    response = await conekta.client.post(
        "/orders", json=order(CARD), headers={"Authorization": ""}, auth=(KEY, "")
    )
    assert response.status_code == 200


async def test_the_accept_header_must_name_a_2x_version(conekta: Sandbox) -> None:
    old = await conekta.client.post(
        "/orders", json=order(CARD), headers={"Accept": "application/vnd.conekta-v1.0.0+json"}
    )
    assert old.status_code == 422
    assert old.json()["details"][0]["code"] == "conekta.errors.parameter_validation.api_version"
    for version in ("2.0.0", "2.1.0", "2.2.0"):
        accept = f"application/vnd.conekta-v{version}+json"
        ok = await conekta.client.post("/orders", json=order(CARD), headers={"Accept": accept})
        assert ok.status_code == 200


async def test_a_card_order_is_paid_with_its_money_and_events(conekta: Sandbox) -> None:
    response = await conekta.client.post("/orders", json=order(CARD, metadata={"k": "v"}))
    body = response.json()
    assert body["object"] == "order" and body["id"].startswith("ord_")
    assert body["payment_status"] == "paid" and body["amount"] == 150000
    charge = body["charges"]["data"][0]
    assert charge["status"] == "paid" and charge["payment_method"]["object"] == "card_payment"
    assert charge["fee"] > 0 and body["metadata"] == {"k": "v"}
    assert conekta.inbox.types() == ["order.created", "charge.paid", "order.paid"]
    txns = (await conekta.client.get("/transactions")).json()
    assert [(t["type"], t["amount"], t["charge"]) for t in txns["data"]] == [
        ("capture", 150000, charge["id"])
    ]


async def test_a_decline_is_a_402_carrying_the_declined_order(conekta: Sandbox) -> None:
    declined = {"type": "card", "token_id": "tok_test_card_declined"}
    response = await conekta.client.post("/orders", json=order(declined))
    assert response.status_code == 402
    body = response.json()
    assert body["type"] == "processing_error"
    assert body["details"][0]["code"] == "conekta.errors.processing.bank.declined"
    assert body["data"]["payment_status"] == "declined"
    stored = await conekta.client.get(f"/orders/{body['data']['id']}")
    assert stored.json()["charges"]["data"][0]["failure_code"] == "card_declined"
    assert conekta.inbox.types()[-2:] == ["charge.declined", "order.declined"]


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"customer_info": {"name": "Ana", "email": "a@x.mx"}}, "customer_info.phone"),
        ({"currency": "USD"}, "currency"),
        ({"line_items": []}, "line_items"),
        ({"charges": [{"payment_method": {"type": "bitcoin"}}]}, "charges.0.payment_method.type"),
    ],
)
async def test_invalid_orders_are_parameter_validation_errors(
    conekta: Sandbox, change: dict[str, Any], param: str
) -> None:
    response = await conekta.client.post("/orders", json={**order(CARD), **change})
    assert response.status_code == 422
    detail = response.json()["details"][0]
    assert response.json()["type"] == "parameter_validation_error"
    assert detail["param"] == param


async def test_an_unknown_token_or_order_is_a_404(conekta: Sandbox) -> None:
    token = await conekta.client.post("/orders", json=order({"type": "card", "token_id": "tok_x"}))
    missing = await conekta.client.get("/orders/ord_nope")
    assert token.status_code == missing.status_code == 404
    assert missing.json()["type"] == "resource_not_found_error"


async def test_idempotency_key_replays_and_refuses_other_parameters(conekta: Sandbox) -> None:
    headers = {"Idempotency-Key": "attempt-1"}
    first = await conekta.client.post("/orders", json=order(CARD), headers=headers)
    again = await conekta.client.post("/orders", json=order(CARD), headers=headers)
    assert first.json() == again.json()
    assert len(conekta.simulator.store.all("orders")) == 1
    other = await conekta.client.post(
        "/orders", json=order(CARD, metadata={"x": "1"}), headers=headers
    )
    assert other.status_code == 422
    assert (
        other.json()["details"][0]["code"] == "conekta.errors.parameter_validation.idempotency_key"
    )


async def test_refunds_need_a_reason_and_fit_the_order(conekta: Sandbox) -> None:
    paid = (await conekta.client.post("/orders", json=order(CARD))).json()
    path = f"/orders/{paid['id']}/refunds"
    no_reason = await conekta.client.post(path, json={"amount": 100})
    too_much = await conekta.client.post(path, json={"amount": 150001, "reason": "other"})
    assert no_reason.status_code == too_much.status_code == 422
    part = (await conekta.client.post(path, json={"amount": 40000, "reason": "other"})).json()
    assert part["payment_status"] == "partially_refunded" and part["amount_refunded"] == 40000
    assert part["charges"]["data"][0]["refunds"]["data"][0]["amount"] == -40000
    rest = await conekta.client.post(path, json={"amount": 110000, "reason": "other"})
    assert rest.json()["payment_status"] == "refunded"
    after = await conekta.client.post(path, json={"amount": 1, "reason": "other"})
    assert after.status_code == 428
    assert conekta.inbox.types()[-2:] == ["charge.refunded", "order.refunded"]


async def test_cash_reference_lapses_when_its_time_passes(conekta: Sandbox) -> None:
    cash = {"type": "cash", "expires_at": int(conekta.clock.now) + 3600}
    created = (await conekta.client.post("/orders", json=order(cash))).json()
    pm = created["charges"]["data"][0]["payment_method"]
    assert created["payment_status"] == "pending_payment"
    assert pm["object"] == "cash_payment" and len(pm["reference"]) == 14
    assert pm["barcode_url"] == f"http://conekta.test/_hosted/oxxo/{created['id']}"
    refs = [r.id for r in conekta.simulator.pending_references()]
    assert refs == [created["id"]]
    conekta.clock.now += 3601
    lapsed = (await conekta.client.get(f"/orders/{created['id']}")).json()
    assert lapsed["payment_status"] == "expired"
    assert conekta.inbox.types()[-2:] == ["charge.expired", "order.expired"]
    assert conekta.simulator.pending_references() == []


async def test_spei_order_gets_a_valid_clabe_and_is_paid_from_admin(conekta: Sandbox) -> None:
    created = (await conekta.client.post("/orders", json=order({"type": "spei"}))).json()
    pm = created["charges"]["data"][0]["payment_method"]
    assert pm["object"] == "bank_transfer_payment" and pm["clabe"].startswith("646180")
    partial = await conekta.client.post(
        f"/_references/{created['id']}/pay", json={"amount": "10.00"}
    )
    assert partial.status_code == 400  # Conekta's CLABE takes the exact amount
    paid = await conekta.client.post(f"/_references/{created['id']}/pay")
    assert paid.status_code == 200
    after = (await conekta.client.get(f"/orders/{created['id']}")).json()
    assert after["payment_status"] == "paid"
    assert after["charges"]["data"][0]["payment_method"]["tracking_code"]
    twice = await conekta.client.post(f"/_references/{created['id']}/pay")
    assert twice.status_code == 409


async def test_webhook_keys_expose_the_key_that_signs_every_delivery(conekta: Sandbox) -> None:
    key = (await conekta.client.post("/webhook_keys", json={"active": True})).json()
    assert key["object"] == "webhook_key" and key["public_key"].startswith("-----BEGIN PUBLIC KEY")
    conekta.inbox.statuses = [500]  # the first delivery fails and is retried
    await conekta.client.post("/orders", json=order(CARD))
    public = load_pem_public_key(key["public_key"].encode())
    for delivery in conekta.inbox.received:
        signature = base64.b64decode(delivery.headers["Digest"])
        public.verify(signature, delivery.content, padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr]
    keys = load_conekta_webhook_keys(key["public_key"])
    event = verify_conekta_signature(
        conekta.inbox.received[-1].content, conekta.inbox.received[-1].headers, keys, tolerance=0
    )
    assert event.type == "order.paid"
    assert conekta.sleeps == [1.0]
    assert [d.ok for d in conekta.simulator.webhooks.deliveries][:2] == [False, True]


async def test_lists_page_newest_first_with_next(conekta: Sandbox) -> None:
    for _ in range(3):
        await conekta.client.post("/orders", json=order(CARD))
    first = (await conekta.client.get("/orders", params={"limit": 2})).json()
    assert first["has_more"] is True and first["total"] == 3
    second = (
        await conekta.client.get("/orders", params={"limit": 2, "next": first["data"][-1]["id"]})
    ).json()
    ids = [o["id"] for o in first["data"] + second["data"]]
    assert ids == [o["id"] for o in reversed(conekta.simulator.store.all("orders"))]
    assert second["has_more"] is False


async def test_settlement_and_chargeback_admin_helpers(conekta: Sandbox) -> None:
    paid = (await conekta.client.post("/orders", json=order(CARD))).json()
    disputed = await conekta.client.post(f"/_payments/{paid['id']}/chargeback")
    assert disputed.json()["payment_status"] == "charged_back"
    assert conekta.inbox.types()[-1] == "order.charged_back"
    await conekta.client.post("/orders", json=order(CARD))
    lines = (await conekta.client.get("/transactions")).json()["data"]
    assert [t["type"] for t in lines] == ["capture", "chargeback", "capture"]
    transfer = (await conekta.client.post("/_payouts")).json()
    assert transfer["object"] == "transfer" and transfer["status"] == "paid"
    assert transfer["amount"] == sum(t["net"] for t in lines)
    nothing_left = await conekta.client.post("/_payouts")
    assert nothing_left.status_code == 422
    listed = (await conekta.client.get("/transfers")).json()["data"]
    assert [t["id"] for t in listed] == [transfer["id"]]


async def test_the_sandbox_index_lists_and_pays_conekta_references() -> None:
    received: list[httpx.Request] = []

    def receive(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    app = create_sandbox_app(
        {"conekta": {"private_key": KEY}},
        "http://127.0.0.1:8000/webhooks",
        transport=httpx.MockTransport(receive),
        seed=2,
    )
    headers = {"Authorization": f"Bearer {KEY}", "Accept": ACCEPT}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sb.test") as client:
        created = (
            await client.post("/conekta/orders", json=order({"type": "cash"}), headers=headers)
        ).json()
        index = await client.get("/")
        assert created["id"] in index.text and "$1,500.00 MXN" in index.text
        page = await client.get(f"/conekta/_hosted/oxxo/{created['id']}")
        assert page.status_code == 200 and "OXXO reference" in page.text
        await client.post(f"/conekta/_references/{created['id']}/pay", data={"next": "/"})
    assert received[-1].url == "http://127.0.0.1:8000/webhooks/conekta"
    assert json.loads(received[-1].content)["type"] == "order.paid"
