"""The Mercado Pago simulator speaks Mercado Pago: auth, idempotency, shapes, notifications."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from tests.sandbox.support import Inbox

from puente.providers.answers import decimal_json
from puente.providers.mercadopago_webhooks import verify_mercadopago_signature
from puente_sandbox.mercadopago import MercadoPagoSimulator, create_mercadopago_sandbox
from puente_sandbox.mercadopago_objects import mp_fee

pytestmark = pytest.mark.anyio
TOKEN = "TEST-1523846091-sandbox-tests-0123456789"
SECRET = "mp_whsec_sandbox_tests"


@dataclass
class Sandbox:
    simulator: MercadoPagoSimulator
    client: httpx.AsyncClient
    inbox: Inbox


@pytest.fixture
async def mp() -> AsyncIterator[Sandbox]:
    inbox = Inbox()

    async def sleep(seconds: float) -> None:
        return None

    app = create_mercadopago_sandbox(
        {"access_token": TOKEN, "webhook_secret": SECRET},
        "http://puente.test/webhooks/mp",
        httpx.MockTransport(inbox.handle),
        None,
        sleep=sleep,
        seed=3,
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://mp.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    async with client:
        yield Sandbox(app.state.simulator, client, inbox)


def pay(amount: object = 150, token: str = "test_visa_APRO") -> dict[str, object]:
    return {
        "transaction_amount": amount,
        "token": token,
        "installments": 1,
        "payer": {"email": "ana@example.mx"},
    }


async def test_wrong_or_missing_token_is_refused_as_mercadopago_does(mp: Sandbox) -> None:
    for auth in ("Bearer TEST-wrong", ""):
        response = await mp.client.get("/v1/payments/1", headers={"Authorization": auth})
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"


async def test_payments_need_an_idempotency_key_and_replay_with_it(mp: Sandbox) -> None:
    missing = await mp.client.post("/v1/payments", json=pay())
    assert missing.status_code == 400
    assert "X-Idempotency-Key" in missing.json()["message"]
    first = await mp.client.post("/v1/payments", json=pay(), headers={"X-Idempotency-Key": "a"})
    again = await mp.client.post("/v1/payments", json=pay(), headers={"X-Idempotency-Key": "a"})
    other = await mp.client.post("/v1/payments", json=pay(151), headers={"X-Idempotency-Key": "a"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and other.status_code == 409
    assert mp.simulator.store.count("payments") == 1


@pytest.mark.parametrize(
    ("holder", "status", "detail"),
    [
        ("APRO", "approved", "accredited"),
        ("OTHE", "rejected", "cc_rejected_other_reason"),
        ("CONT", "in_process", "pending_contingency"),
        ("FUND", "rejected", "cc_rejected_insufficient_amount"),
    ],
)
async def test_cardholder_name_sets_the_outcome(mp: Sandbox, holder, status, detail) -> None:
    token = await mp.client.post(
        "/v1/card_tokens",
        json={
            "card_number": "5474925432670366",
            "expiration_month": 11,
            "expiration_year": 2030,
            "security_code": "123",
            "cardholder": {"name": holder},
        },
    )
    assert token.status_code == 201
    created = await mp.client.post(
        "/v1/payments", json=pay(token=token.json()["id"]), headers={"X-Idempotency-Key": holder}
    )
    body = created.json()
    assert (body["status"], body["status_detail"]) == (status, detail)
    assert body["payment_method_id"] == "master" and body["card"]["last_four_digits"] == "0366"
    reused = await mp.client.post(
        "/v1/payments",
        json=pay(token=token.json()["id"]),
        headers={"X-Idempotency-Key": holder + "2"},
    )
    assert reused.status_code == 400  # a card token works once
    assert reused.json()["cause"][0]["code"] == 2006


async def test_amounts_are_decimal_numbers_end_to_end(mp: Sandbox) -> None:
    created = await mp.client.post(
        "/v1/payments",
        content=b'{"transaction_amount": 150.10, "token": "test_visa_APRO"}',
        headers={"X-Idempotency-Key": "d", "Content-Type": "application/json"},
    )
    assert b'"transaction_amount": 150.1,' in created.content
    details = decimal_json(created.content)["transaction_details"]
    assert details["net_received_amount"] == Decimal("150.10") - mp_fee(Decimal("150.10"))


async def test_notifications_are_signed_and_retried_with_a_fresh_signature(mp: Sandbox) -> None:
    mp.inbox.statuses = [500]
    await mp.client.post("/v1/payments", json=pay(), headers={"X-Idempotency-Key": "n"})
    first, second = mp.inbox.received
    assert first.content == second.content
    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    body = json.loads(second.content)
    assert body["type"] == "payment" and body["action"] == "payment.created"
    assert set(body["data"]) == {"id"}  # the body only names the payment
    event = verify_mercadopago_signature(second.content, second.headers, SECRET)
    assert event.provider_payment_id == body["data"]["id"]


async def test_oxxo_ticket_is_paid_from_its_hosted_page(mp: Sandbox) -> None:
    created = await mp.client.post(
        "/v1/payments",
        headers={"X-Idempotency-Key": "o"},
        json={
            "transaction_amount": 500,
            "payment_method_id": "oxxo",
            "payer": {"email": "luis@example.mx"},
        },
    )
    payment = created.json()
    assert (payment["status"], payment["status_detail"]) == ("pending", "pending_waiting_payment")
    page = await mp.client.get(f"/_hosted/ticket/{payment['id']}")
    assert payment["transaction_details"]["payment_method_reference_id"] in page.text
    paid = await mp.client.post(f"/_references/{payment['id']}/pay")
    assert paid.status_code == 200
    after = (await mp.client.get(f"/v1/payments/{payment['id']}")).json()
    assert after["status"] == "approved" and after["date_approved"]
    assert [json.loads(r.content)["action"] for r in mp.inbox.received] == [
        "payment.created",
        "payment.updated",
    ]


async def test_faults_answer_with_mercadopago_error_bodies(mp: Sandbox) -> None:
    mp.simulator.faults.fail_next = 1
    response = await mp.client.get("/v1/payments/search")
    assert response.status_code == 503
    assert set(response.json()) == {"message", "error", "status", "cause"}


async def test_search_pages_and_release_report(mp: Sandbox) -> None:
    for n in range(3):
        await mp.client.post(
            "/v1/payments", json=pay(100 + n), headers={"X-Idempotency-Key": f"s{n}"}
        )
    page = (
        await mp.client.get(
            "/v1/payments/search",
            params={"sort": "date_created", "criteria": "asc", "limit": "2", "offset": "2"},
        )
    ).json()
    assert page["paging"] == {"total": 3, "limit": 2, "offset": 2}
    assert [p["transaction_amount"] for p in page["results"]] == [102]
    mp.simulator.settle()
    await mp.client.post(
        "/v1/account/release_report", json={"begin_date": "NOW-1DAYS", "end_date": "NOW"}
    )
    (listed,) = (await mp.client.get("/v1/account/release_report/list")).json()
    csv = await mp.client.get(f"/v1/account/release_report/{listed['file_name']}")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.count(",payout,") == 1 and csv.text.count(",payment,") == 3
