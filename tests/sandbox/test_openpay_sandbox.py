"""The Openpay simulator on the wire: merchant paths, Basic auth, order_id, references, webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.sandbox.support import Clock, Inbox

from puente.providers.openpay_webhooks import basic_authorization, verify_openpay_webhook
from puente_sandbox.app import create_sandbox_app
from puente_sandbox.openpay import OpenpaySimulator, create_openpay_sandbox

pytestmark = pytest.mark.anyio

MERCHANT = "mtestsandbox00000001"
KEY = "sk_sandbox_tests_0123456789"
CREDENTIALS = {
    "merchant_id": MERCHANT,
    "private_key": KEY,
    "webhook_user": "puente",
    "webhook_password": "sandbox-webhook-pass",
}
V1 = f"/v1/{MERCHANT}"


@dataclass
class Sandbox:
    simulator: OpenpaySimulator
    client: httpx.AsyncClient
    inbox: Inbox
    clock: Clock


@pytest.fixture
async def openpay() -> AsyncIterator[Sandbox]:
    inbox, clock = Inbox(), Clock()
    app = create_openpay_sandbox(
        CREDENTIALS, "http://puente.test/webhooks/openpay", httpx.MockTransport(inbox.handle), clock
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://openpay.test", auth=(KEY, "")
    )
    async with client:
        yield Sandbox(app.state.simulator, client, inbox, clock)


def card(token: str = "tok_test_4111111111111111", **extra: Any) -> dict[str, Any]:
    return {
        "method": "card",
        "source_id": token,
        "amount": "150.00",
        "description": "Colegiatura",
        "device_session_id": "kR1MiQhz2otdIuUlQkbEyit",  # openpay-data.js's, from the browser
        **extra,
    }


async def test_wrong_key_merchant_or_public_key_are_refused(openpay: Sandbox) -> None:
    wrong_key = await openpay.client.post(f"{V1}/charges", json=card(), auth=("sk_nope", ""))
    wrong_merchant = await openpay.client.post("/v1/mother/charges", json=card())
    public = await openpay.client.post(f"{V1}/charges", json=card(), auth=("pk_public", ""))
    assert wrong_key.status_code == wrong_merchant.status_code == 401
    body = wrong_key.json()
    assert body["error_code"] == 1002 and body["http_code"] == 401
    assert body["category"] == "request" and body["request_id"].count("-") == 4
    assert (public.status_code, public.json()["error_code"]) == (403, 1010)


async def test_a_card_charge_completes_with_exact_decimal_amounts(openpay: Sandbox) -> None:
    response = await openpay.client.post(f"{V1}/charges", json=card(order_id="o-1"))
    assert response.status_code == 200
    assert '"amount":150.00' in response.text  # a JSON number, written exactly
    body = json.loads(response.content, parse_float=Decimal)
    assert body["status"] == "completed" and body["method"] == "card"
    assert body["fee"] == {"amount": Decimal("6.85"), "tax": Decimal("1.10"), "currency": "MXN"}
    assert body["card"]["card_number"] == "411111XXXXXX1111"
    assert openpay.inbox.types() == ["charge.succeeded"]
    delivery = openpay.inbox.received[0]
    assert delivery.headers["Authorization"] == basic_authorization(
        "puente", "sandbox-webhook-pass"
    )
    event = verify_openpay_webhook(
        delivery.content, delivery.headers, "puente", "sandbox-webhook-pass"
    )
    assert event.amount == Decimal("150.00")


async def test_a_token_charge_needs_the_browsers_device_session(openpay: Sandbox) -> None:
    without = card(order_id="o-dev")
    del without["device_session_id"]
    refused = await openpay.client.post(f"{V1}/charges", json=without)
    assert refused.status_code == 400 and refused.json()["error_code"] == 1001
    assert "device_session_id" in refused.json()["description"]
    assert openpay.simulator.store.count("charges") == 0  # refused before anything was made
    kept = await openpay.client.post(f"{V1}/charges", json=card(order_id="o-dev"))
    assert kept.status_code == 200
    assert openpay.simulator.state.device_sessions == {kept.json()["id"]: "kR1MiQhz2otdIuUlQkbEyit"}


async def test_order_id_is_unique_per_merchant_even_after_a_decline(openpay: Sandbox) -> None:
    declined = await openpay.client.post(
        f"{V1}/charges", json=card("tok_test_4222222222222220", order_id="o-2")
    )
    assert declined.status_code == 402
    assert declined.json()["error_code"] == 3001 and declined.json()["category"] == "gateway"
    again = await openpay.client.post(f"{V1}/charges", json=card(order_id="o-2"))
    assert (again.status_code, again.json()["error_code"]) == (409, 1006)
    found = (await openpay.client.get(f"{V1}/charges", params={"order_id": "o-2"})).json()
    assert [c["status"] for c in found] == ["failed"]
    assert found[0]["error_code"] == 3001
    assert openpay.inbox.types() == ["charge.failed"]


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("tok_test_4222222222222220", 3001),
        ("tok_test_4000000000000069", 3002),
        ("tok_test_4444444444444448", 3003),
        ("tok_test_4000000000000119", 3004),
    ],
)
async def test_test_cards_decline_with_openpays_codes(openpay: Sandbox, token: str, code: int):
    response = await openpay.client.post(f"{V1}/charges", json=card(token))
    assert (response.status_code, response.json()["error_code"]) == (402, code)


async def test_tokens_are_made_from_card_numbers_and_used_once(openpay: Sandbox) -> None:
    details = {"holder_name": "Ana", "expiration_year": "30", "expiration_month": "12"}
    bad = await openpay.client.post(
        f"{V1}/tokens", json={"card_number": "4111111111111112", **details}
    )
    assert (bad.status_code, bad.json()["error_code"]) == (422, 2004)
    token = (
        await openpay.client.post(
            f"{V1}/tokens", json={"card_number": "4111111111111111", **details}
        )
    ).json()
    assert token["card"]["card_number"] == "411111XXXXXX1111"
    first = await openpay.client.post(f"{V1}/charges", json=card(token["id"]))
    second = await openpay.client.post(f"{V1}/charges", json=card(token["id"]))
    assert first.status_code == 200
    assert (second.status_code, second.json()["error_code"]) == (404, 1005)


async def test_customers_cards_and_customer_scoped_charges(openpay: Sandbox) -> None:
    customer = (
        await openpay.client.post(
            f"{V1}/customers",
            json={"name": "Eva", "email": "eva@example.mx", "external_id": "stu-1"},
        )
    ).json()
    dup = await openpay.client.post(f"{V1}/customers", json={"name": "Eva", "external_id": "stu-1"})
    assert (dup.status_code, dup.json()["error_code"]) == (409, 2003)
    saved = (
        await openpay.client.post(
            f"{V1}/customers/{customer['id']}/cards", json={"token_id": "tok_test_4111111111111111"}
        )
    ).json()
    assert saved["customer_id"] == customer["id"] and saved["card_number"].endswith("1111")
    charged = await openpay.client.post(
        f"{V1}/customers/{customer['id']}/charges", json=card(saved["id"])
    )
    assert charged.json()["customer_id"] == customer["id"]
    stranger = await openpay.client.post(f"{V1}/customers", json={"name": "Otro"})
    theft = await openpay.client.post(
        f"{V1}/customers/{stranger.json()['id']}/charges", json=card(saved["id"])
    )
    assert theft.status_code == 404  # a card belongs to its customer


async def test_store_reference_is_cancelled_after_its_due_date(openpay: Sandbox) -> None:
    store = {"method": "store", "amount": "500.00", "description": "Colegiatura"}
    created = (await openpay.client.post(f"{V1}/charges", json=store)).json()
    pm = created["payment_method"]
    assert created["status"] == "in_progress" and pm["type"] == "store"
    assert pm["barcode_url"].startswith(f"http://openpay.test/barcode/{pm['reference']}")
    voucher = await openpay.client.get(f"/paynet-pdf/{MERCHANT}/{pm['reference']}")
    assert voucher.status_code == 200 and "Paynet reference" in voucher.text
    barcode = await openpay.client.get(f"/barcode/{pm['reference']}")
    assert barcode.headers["content-type"].startswith("image/svg+xml")
    openpay.clock.now += 4 * 86400  # past the default three days
    lapsed = (await openpay.client.get(f"{V1}/charges/{created['id']}")).json()
    assert lapsed["status"] == "cancelled"
    assert openpay.inbox.types() == ["charge.created", "charge.cancelled"]


async def test_spei_reference_is_paid_from_the_sandbox(openpay: Sandbox) -> None:
    spei = {"method": "bank_account", "amount": "1200.00", "description": "Colegiatura"}
    created = (await openpay.client.post(f"{V1}/charges", json=spei)).json()
    pm = created["payment_method"]
    assert pm["type"] == "bank_transfer" and pm["bank"] == "STP" and len(pm["clabe"]) == 18
    pending = openpay.simulator.pending_references()
    assert [(r.id, r.method, r.clabe) for r in pending] == [(created["id"], "spei", pm["clabe"])]
    paid = await openpay.client.post(f"/_references/{created['id']}/pay")
    assert paid.status_code == 200
    after = (await openpay.client.get(f"{V1}/charges/{created['id']}")).json()
    assert after["status"] == "completed"
    assert openpay.inbox.types() == ["charge.created", "charge.succeeded"]


async def test_a_past_or_garbled_due_date_is_refused(openpay: Sandbox) -> None:
    store = {"method": "store", "amount": "5.00", "description": "x"}
    past = await openpay.client.post(
        f"{V1}/charges", json={**store, "due_date": "2020-01-01T00:00:00"}
    )
    garbled = await openpay.client.post(f"{V1}/charges", json={**store, "due_date": "tomorrow"})
    assert (past.status_code, past.json()["error_code"]) == (422, 1003)
    assert (garbled.status_code, garbled.json()["error_code"]) == (400, 1001)


async def test_refunds_partial_then_full_then_refused(openpay: Sandbox) -> None:
    charge = (await openpay.client.post(f"{V1}/charges", json=card())).json()
    path = f"{V1}/charges/{charge['id']}/refund"
    part = (await openpay.client.post(path, json={"amount": "40.00", "description": "a"})).json()
    assert part["status"] == "completed" and part["refund"]["amount"] == 40.0
    too_much = await openpay.client.post(path, json={"amount": "200.00"})
    assert too_much.status_code == 422
    rest = (await openpay.client.post(path, json={})).json()
    assert rest["status"] == "refunded" and len(rest["refunds"]) == 2
    after = await openpay.client.post(path, json={})
    assert (after.status_code, after.json()["error_code"]) == (409, 1013)
    assert openpay.inbox.types().count("charge.refunded") == 2


async def test_webhook_registration_sends_a_verification_code(openpay: Sandbox) -> None:
    created = await openpay.client.post(
        f"{V1}/webhooks",
        json={
            "url": "https://puente.example/webhooks/openpay",
            "user": "puente",
            "password": "sandbox-webhook-pass",
            "event_types": ["charge.succeeded"],
        },
    )
    webhook = created.json()
    assert webhook["status"] == "unverified" and "password" not in webhook
    verification = json.loads(openpay.inbox.received[-1].content)
    assert verification["type"] == "verification"
    code = verification["verification_code"]
    wrong = await openpay.client.post(f"{V1}/webhooks/{webhook['id']}/verify/nope")
    assert wrong.status_code == 400
    ok = await openpay.client.post(f"{V1}/webhooks/{webhook['id']}/verify/{code}")
    assert ok.status_code == 204
    listed = (await openpay.client.get(f"{V1}/webhooks")).json()
    assert [w["status"] for w in listed] == ["verified"]


async def test_lists_filter_by_day_and_page_by_offset(openpay: Sandbox) -> None:
    for n in range(3):
        await openpay.client.post(f"{V1}/charges", json=card(order_id=f"o-{n}"))
    day = "2027-01-15"  # the clock's day in Mexico City
    page = (
        await openpay.client.get(f"{V1}/charges", params={"creation[gte]": day, "limit": 2})
    ).json()
    rest = (
        await openpay.client.get(
            f"{V1}/charges", params={"creation[gte]": day, "limit": 2, "offset": 2}
        )
    ).json()
    assert [c["order_id"] for c in page + rest] == ["o-2", "o-1", "o-0"]  # newest first
    later = (
        await openpay.client.get(f"{V1}/charges", params={"creation[gte]": "2027-01-16"})
    ).json()
    assert later == []
    bad = await openpay.client.get(f"{V1}/charges", params={"limit": 500})
    assert (bad.status_code, bad.json()["error_code"]) == (400, 1001)


async def test_settle_pays_out_the_net_and_announces_it(openpay: Sandbox) -> None:
    charge = (await openpay.client.post(f"{V1}/charges", json=card())).json()
    await openpay.client.post(f"{V1}/charges/{charge['id']}/refund", json={"amount": "50.00"})
    payout = json.loads((await openpay.client.post("/_payouts")).content, parse_float=Decimal)
    assert payout["transaction_type"] == "payout" and payout["status"] == "completed"
    assert payout["amount"] == Decimal("150.00") - Decimal("7.95") - Decimal("50.00")
    assert openpay.inbox.types()[-2:] == ["payout.created", "payout.succeeded"]
    listed = (await openpay.client.get(f"{V1}/payouts")).json()
    assert [p["id"] for p in listed] == [payout["id"]]
    again = await openpay.client.post("/_payouts")
    assert again.status_code == 412


async def test_the_sandbox_index_lists_openpay_references() -> None:
    app = create_sandbox_app(
        {"openpay": CREDENTIALS},
        "http://127.0.0.1:8000/webhooks",
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
        seed=2,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://sb.test", auth=(KEY, "")
    ) as client:
        store = {"method": "store", "amount": "320.00", "description": "Colegiatura"}
        created = (await client.post(f"/openpay{V1}/charges", json=store)).json()
        index = await client.get("/")
    assert created["id"] in index.text and "$320.00 MXN" in index.text
