"""The generic bank simulator: tokens, idempotency, refusals, settlement, deposits, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from tests.sandbox.support import Clock, Inbox

from puente.providers.bank_webhooks import verify_bank_signature
from puente_sandbox.bank import DEFAULT_BANK_CREDENTIALS, OpenBankingSimulator, create_bank_sandbox

pytestmark = pytest.mark.anyio
CLIENT = (DEFAULT_BANK_CREDENTIALS["client_id"], DEFAULT_BANK_CREDENTIALS["client_secret"])
ACCOUNT = DEFAULT_BANK_CREDENTIALS["account_id"]


@dataclass
class Sandbox:
    simulator: OpenBankingSimulator
    client: httpx.AsyncClient
    inbox: Inbox
    clock: Clock

    async def token(self) -> str:
        response = await self.client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=CLIENT
        )
        return str(response.json()["access_token"])

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {await self.token()}", **kwargs.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
async def bank_sandbox() -> AsyncIterator[Sandbox]:
    inbox, clock = Inbox(), Clock()
    app = create_bank_sandbox(
        {},
        "http://puente.test/webhooks/bank",
        httpx.MockTransport(inbox.handle),
        clock,
        seed=4,
        balance=Decimal("1000.00"),
        settle_after=60.0,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bank.test") as client:
        yield Sandbox(app.state.simulator, client, inbox, clock)


def payment(amount: str = "150.00", clabe: str = "012180001234567899") -> dict[str, Any]:
    return {
        "account_id": ACCOUNT,
        "amount": amount,
        "currency": "MXN",
        "beneficiary": {"clabe": clabe, "name": "Ana Lopez"},
        "concept": "Prestamo",
    }


async def test_tokens_refuse_a_wrong_client_and_expire(bank_sandbox: Sandbox) -> None:
    wrong = await bank_sandbox.client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(CLIENT[0], "nope")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    token = await bank_sandbox.token()
    headers = {"Authorization": f"Bearer {token}"}
    ok = await bank_sandbox.client.get(f"/accounts/{ACCOUNT}/balance", headers=headers)
    assert ok.status_code == 200 and ok.json()["available"] == "1000.00"
    bank_sandbox.clock.now += 3600
    expired = await bank_sandbox.client.get(f"/accounts/{ACCOUNT}/balance", headers=headers)
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "invalid_token"
    assert expired.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


async def test_payments_need_a_key_and_replay_under_it(bank_sandbox: Sandbox) -> None:
    missing = await bank_sandbox.call("POST", "/payments/spei", json=payment())
    assert missing.status_code == 400
    key = {"Idempotency-Key": "k-1"}
    first = await bank_sandbox.call("POST", "/payments/spei", json=payment(), headers=key)
    again = await bank_sandbox.call("POST", "/payments/spei", json=payment(), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = await bank_sandbox.call("POST", "/payments/spei", json=payment("9.00"), headers=key)
    assert other.status_code == 409 and other.json()["error"]["code"] == "idempotency_conflict"
    listed = await bank_sandbox.call("GET", "/payments/spei")
    assert len(listed.json()["data"]) == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (payment(clabe="012180001234567890"), 400, "invalid_clabe"),
        (payment(clabe="072580010000000001"), 422, "account_not_found"),
        (payment(amount="1000.01"), 422, "insufficient_funds"),
        (payment(amount="1.5e2"), 400, "invalid_request"),
        ({**payment(), "account_id": "acc_other"}, 404, "not_found"),
    ],
)
async def test_refusals(
    bank_sandbox: Sandbox, body: dict[str, Any], status: int, code: str
) -> None:
    response = await bank_sandbox.call(
        "POST", "/payments/spei", json=body, headers={"Idempotency-Key": f"k-{code}"}
    )
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_payments_settle_after_the_delay_with_signed_webhooks(bank_sandbox: Sandbox) -> None:
    key = {"Idempotency-Key": "k-2"}
    created = (
        await bank_sandbox.call("POST", "/payments/spei", json=payment(), headers=key)
    ).json()
    balance = (await bank_sandbox.call("GET", f"/accounts/{ACCOUNT}/balance")).json()
    assert (balance["available"], balance["ledger"]) == ("850.00", "1000.00")
    bank_sandbox.clock.now += 61
    settled = (await bank_sandbox.call("GET", f"/payments/spei/{created['id']}")).json()
    assert settled["status"] == "settled" and settled["settled_at"]
    assert bank_sandbox.inbox.types() == ["payment.created", "payment.settled"]
    delivery = bank_sandbox.inbox.received[-1]
    secret = DEFAULT_BANK_CREDENTIALS["webhook_secret"]
    from datetime import UTC, datetime

    now = datetime.fromtimestamp(bank_sandbox.clock.now, UTC)
    event = verify_bank_signature(delivery.content, delivery.headers, secret, now=now)
    assert event.provider_payment_id == created["id"]


async def test_deposits_and_transactions_page_by_cursor(bank_sandbox: Sandbox) -> None:
    for amount in ("10.00", "20.00", "30.00"):
        deposit = await bank_sandbox.client.post("/_deposits", json={"amount": amount})
        await bank_sandbox.client.post(f"/_references/{deposit.json()['id']}/pay")
        bank_sandbox.clock.now += 1
    first = await bank_sandbox.call("GET", f"/accounts/{ACCOUNT}/transactions", params={"limit": 2})
    page = first.json()
    assert [t["amount"] for t in page["data"]] == ["10.00", "20.00"]
    rest = await bank_sandbox.call(
        "GET", f"/accounts/{ACCOUNT}/transactions", params={"cursor": page["next_cursor"]}
    )
    assert [t["amount"] for t in rest.json()["data"]] == ["30.00"]
    assert rest.json()["next_cursor"] is None
    assert bank_sandbox.inbox.types() == ["deposit.received"] * 3


async def test_verification_knows_holders(bank_sandbox: Sandbox) -> None:
    async def verify(**body: str) -> dict[str, Any]:
        return (await bank_sandbox.call("POST", "/accounts/verify", json=body)).json()

    match = await verify(clabe="012180001234567899", name="Ana López García", rfc="LOGA800101AB1")
    assert match["valid"] and match["name_match"] == "match" and match["rfc_match"] is True
    assert (await verify(clabe="012180001234567899", name="Ana Lopez"))["name_match"] == "partial"
    assert (await verify(clabe="012180001234567899", name="Pedro"))["name_match"] == "no_match"
    assert (await verify(clabe="072580010000000001"))["valid"] is False
