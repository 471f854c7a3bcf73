"""Fidelity: Mercado Pago's official SDK (``mercadopago``), pointed at the simulator.

``mercadopago`` is a dev dependency, imported plainly (a broken install fails). The SDK has no
base-URL setting: ``https://api.mercadopago.com`` is a private constant of its ``Config``. It
does take an ``http_client`` (its documented seam for a custom HTTP layer), so
``SandboxHttpClient`` moves each request's host to the loopback simulator and leaves the rest —
paths, headers, idempotency keys, JSON in and out — to the SDK's own code. Notifications are
checked with the SDK's ``WebhookSignatureValidator``. The simulator posts them to the bare URL,
not with Mercado Pago's ``?data.id=…&type=…`` query, so the signed ``data.id`` is read from the
body here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import mercadopago
import pytest
from mercadopago.http.http_client import HttpClient
from mercadopago.webhook.validator import (
    InvalidWebhookSignatureError,
    SignatureFailureReason,
    WebhookSignatureValidator,
)
from tests.sandbox.loopback import serve_on_loopback, wait_until

from puente_sandbox.mercadopago import create_mercadopago_sandbox

TOKEN = "TEST-7700000000000000-010124-sdkfidelity000000000000000-770000000"
SECRET = "mp_sdk_fidelity_webhook_secret_0000"
NOW = 1_800_000_000.0
API = "https://api.mercadopago.com"


class SandboxHttpClient(HttpClient):
    """The SDK's own HTTP client, sending to the simulator instead of Mercado Pago's host."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def request(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        assert url.startswith(API), url
        return super().request(method, self.base_url + url.removeprefix(API), **kwargs)


class Sandbox:
    def __init__(self, base_url: str, received: list[httpx.Request]) -> None:
        self.base_url = base_url
        self.received = received
        self.sdk = mercadopago.SDK(TOKEN, http_client=SandboxHttpClient(base_url))


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    received: list[httpx.Request] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    app = create_mercadopago_sandbox(
        {"access_token": TOKEN, "webhook_secret": SECRET},
        "http://puente.test/webhooks/mercadopago",
        httpx.MockTransport(inbox),
        lambda: NOW,
        seed=11,
    )
    with serve_on_loopback(app) as base_url:
        yield Sandbox(base_url, received)


def created(answer: dict[str, Any], status: int = 201) -> dict[str, Any]:
    """The body of an SDK answer (``{"status", "response"}``) that had ``status``."""
    assert answer["status"] == status, answer
    return answer["response"]


def card_payment(token: str, amount: float = 150, reference: str = "sdk-1") -> dict[str, Any]:
    return {
        "transaction_amount": amount,
        "token": token,
        "installments": 1,
        "payment_method_id": "visa",
        "description": "Colegiatura",
        "external_reference": reference,
        "payer": {"email": "ana@example.mx"},
    }


def test_sdk_card_payment_refunds_and_search(sandbox: Sandbox) -> None:
    token = created(
        sandbox.sdk.card_token().create(
            {
                "card_number": "4075595716483764",
                "expiration_month": 11,
                "expiration_year": 2030,
                "security_code": "123",
                "cardholder": {"name": "APRO"},
            }
        )
    )
    paid = created(sandbox.sdk.payment().create(card_payment(token["id"])))
    assert (paid["status"], paid["status_detail"]) == ("approved", "accredited")
    assert isinstance(paid["id"], int)

    # A decline is a created payment, rejected, as Mercado Pago answers it.
    rejected = created(sandbox.sdk.payment().create(card_payment("test_visa_OTHE", 90, "sdk-2")))
    assert (rejected["status"], rejected["status_detail"]) == (
        "rejected",
        "cc_rejected_other_reason",
    )

    again = created(sandbox.sdk.payment().get(paid["id"]), 200)
    assert (again["id"], again["transaction_amount"]) == (paid["id"], 150)

    partial = created(sandbox.sdk.refund().create(paid["id"], {"amount": 50}))
    assert (partial["amount"], partial["status"]) == (50, "approved")
    after = created(sandbox.sdk.payment().get(paid["id"]), 200)
    assert (after["status"], after["status_detail"]) == ("approved", "partially_refunded")
    rest = created(sandbox.sdk.refund().create(paid["id"]))
    assert rest["amount"] == 100
    refunds = created(sandbox.sdk.refund().list_all(paid["id"]), 200)
    assert [r["amount"] for r in refunds] == [50, 100]
    assert created(sandbox.sdk.payment().get(paid["id"]), 200)["status"] == "refunded"

    found = created(sandbox.sdk.payment().search({"external_reference": "sdk-1"}), 200)
    assert [p["id"] for p in found["results"]] == [paid["id"]]
    every = list(sandbox.sdk.payment().search_auto_paging_iter({"sort": "date_created"}))
    assert {p["id"] for p in every} == {paid["id"], rejected["id"]}

    stranger = mercadopago.SDK(
        "TEST-not-the-token", http_client=SandboxHttpClient(sandbox.base_url)
    )
    assert stranger.payment().get(paid["id"])["status"] == 401
    assert sandbox.sdk.payment().get(1)["status"] == 404


def test_sdk_oxxo_and_spei_references(sandbox: Sandbox) -> None:
    payer = {"email": "ana@example.mx"}
    oxxo = created(
        sandbox.sdk.payment().create(
            {"transaction_amount": 300, "payment_method_id": "oxxo", "payer": payer}
        )
    )
    assert (oxxo["status"], oxxo["status_detail"]) == ("pending", "pending_waiting_payment")
    assert oxxo["payment_type_id"] == "ticket"
    assert oxxo["transaction_details"]["payment_method_reference_id"]
    assert oxxo["transaction_details"]["external_resource_url"].startswith(sandbox.base_url)

    spei = created(
        sandbox.sdk.payment().create(
            {"transaction_amount": 200, "payment_method_id": "clabe", "payer": payer}
        )
    )
    assert (spei["status"], spei["status_detail"]) == ("pending", "pending_waiting_transfer")
    assert spei["payment_type_id"] == "bank_transfer"

    for payment in (oxxo, spei):
        answer = httpx.post(f"{sandbox.base_url}/_references/{payment['id']}/pay")
        assert answer.status_code == 200
        assert created(sandbox.sdk.payment().get(payment["id"]), 200)["status"] == "approved"


def test_sandbox_notifications_pass_the_sdk_validator(sandbox: Sandbox) -> None:
    paid = created(sandbox.sdk.payment().create(card_payment("test_visa_APRO")))

    def notices() -> list[httpx.Request]:
        return [
            r for r in sandbox.received if json.loads(r.content)["data"]["id"] == str(paid["id"])
        ]

    wait_until(lambda: bool(notices()))
    delivery = notices()[0]
    body = json.loads(delivery.content)
    assert (body["type"], body["action"]) == ("payment", "payment.created")

    signature, request_id = delivery.headers["x-signature"], delivery.headers["x-request-id"]
    WebhookSignatureValidator.validate(
        signature,
        request_id,
        body["data"]["id"],
        SECRET,
        tolerance_seconds=300,
        now=lambda: int(NOW * 1000),
    )
    with pytest.raises(InvalidWebhookSignatureError) as caught:
        WebhookSignatureValidator.validate(signature, request_id, "999", SECRET)
    assert caught.value.reason is SignatureFailureReason.SIGNATURE_MISMATCH
    with pytest.raises(InvalidWebhookSignatureError):
        WebhookSignatureValidator.validate(signature, request_id, body["data"]["id"], "other")
