"""The PayPal simulator speaks PayPal: OAuth, orders, approval pages, signed webhooks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from puente.providers.base import ProviderConfig
from puente.providers.paypal import PayPalConnector
from puente_sandbox.paypal import PayPalSimulator, create_paypal_sandbox

pytestmark = pytest.mark.anyio
CREDS = {"client_id": "AZsandbox-tests", "client_secret": "EPsandbox-tests", "webhook_id": "WH9"}
ORDER = {
    "intent": "CAPTURE",
    "purchase_units": [{"amount": {"currency_code": "MXN", "value": "150.00"}}],
}


@dataclass
class Sandbox:
    app: object
    simulator: PayPalSimulator
    client: httpx.AsyncClient
    received: list[httpx.Request] = field(default_factory=list)

    async def token(self) -> str:
        answer = await self.client.post(
            "/v1/oauth2/token",
            auth=(CREDS["client_id"], CREDS["client_secret"]),
            data={"grant_type": "client_credentials"},
        )
        return answer.json()["access_token"]


@pytest.fixture
async def paypal() -> AsyncIterator[Sandbox]:
    received: list[httpx.Request] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    app = create_paypal_sandbox(
        CREDS, "http://puente.test/webhooks/paypal", httpx.MockTransport(inbox), None, seed=5
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://paypal.test"
    )
    async with client:
        box = Sandbox(app, app.state.simulator, client, received)
        client.headers["Authorization"] = f"Bearer {await box.token()}"
        yield box


async def test_oauth_refuses_wrong_client_and_unknown_bearer(paypal: Sandbox) -> None:
    refused = await paypal.client.post(
        "/v1/oauth2/token",
        auth=("AZsandbox-tests", "nope"),
        data={"grant_type": "client_credentials"},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    bad = await paypal.client.get("/v2/checkout/orders/X", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401 and bad.json()["error"] == "invalid_token"


async def test_order_is_approved_on_the_hosted_page_then_captured(paypal: Sandbox) -> None:
    body = {
        **ORDER,
        "payment_source": {
            "paypal": {
                "experience_context": {
                    "return_url": "https://puente.test/vuelta",
                    "cancel_url": "https://puente.test/no",
                }
            }
        },
    }
    created = (await paypal.client.post("/v2/checkout/orders", json=body)).json()
    assert created["status"] == "PAYER_ACTION_REQUIRED"
    link = next(x["href"] for x in created["links"] if x["rel"] == "payer-action")
    early = await paypal.client.post(f"/v2/checkout/orders/{created['id']}/capture", json={})
    assert early.status_code == 422
    assert early.json()["details"][0]["issue"] == "ORDER_NOT_APPROVED"
    page = await paypal.client.get(link)
    assert "CCREJECT-IF" in page.text and "150.00" in page.text
    approved = await paypal.client.post(
        f"/_hosted/checkoutnow/approve?token={created['id']}", data={"funding": "paypal"}
    )
    assert approved.status_code == 303
    assert approved.headers["location"].startswith(
        f"https://puente.test/vuelta?token={created['id']}&PayerID="
    )
    captured = await paypal.client.post(
        f"/v2/checkout/orders/{created['id']}/capture",
        json={},
        headers={"PayPal-Request-Id": "cap-1"},
    )
    order = captured.json()
    capture = order["purchase_units"][0]["payments"]["captures"][0]
    assert order["status"] == "COMPLETED" and capture["status"] == "COMPLETED"
    assert capture["seller_receivable_breakdown"]["paypal_fee"]["value"] == "11.52"
    replay = await paypal.client.post(
        f"/v2/checkout/orders/{created['id']}/capture",
        json={},
        headers={"PayPal-Request-Id": "cap-1"},
    )
    assert replay.json() == order  # same request id: the same answer, one capture
    types = [json.loads(r.content)["event_type"] for r in paypal.received]
    assert types == ["CHECKOUT.ORDER.APPROVED", "PAYMENT.CAPTURE.COMPLETED"]


async def test_mock_response_header_declines_the_instrument(paypal: Sandbox) -> None:
    created = (await paypal.client.post("/v2/checkout/orders", json=ORDER)).json()
    paypal.simulator.state.approve_order(created["id"], "paypal")
    declined = await paypal.client.post(
        f"/v2/checkout/orders/{created['id']}/capture",
        json={},
        headers={"PayPal-Mock-Response": '{"mock_application_codes": "INSTRUMENT_DECLINED"}'},
    )
    assert declined.status_code == 422
    assert declined.json()["details"][0]["issue"] == "INSTRUMENT_DECLINED"


async def test_webhooks_verify_offline_and_online_through_the_connector(paypal: Sandbox) -> None:
    created = (await paypal.client.post("/v2/checkout/orders", json=ORDER)).json()
    await paypal.client.post(f"/_orders/{created['id']}/approve", json={"name": "Ana"})
    await paypal.client.post(f"/v2/checkout/orders/{created['id']}/capture", json={})
    delivery = paypal.received[-1]
    assert delivery.headers["PAYPAL-CERT-URL"].startswith("http://paypal.test/v1/notifications/")
    config = ProviderConfig(
        credentials=CREDS,
        base_url="http://paypal.test",
        transport=httpx.ASGITransport(app=paypal.app),
    )
    async with PayPalConnector(config) as connector:
        offline = await connector.verify_webhook(delivery.content, delivery.headers)
        online = await connector.verify_webhook_online(delivery.content, delivery.headers)
        again = await connector.verify_webhook(delivery.content, delivery.headers)
    assert offline.event_id == online.event_id == again.event_id
    assert offline.provider_payment_id == created["id"]


async def test_withdrawal_shows_in_the_report(paypal: Sandbox) -> None:
    created = (await paypal.client.post("/v2/checkout/orders", json=ORDER)).json()
    paypal.simulator.state.approve_order(created["id"], "card", "Ana")
    await paypal.client.post(f"/v2/checkout/orders/{created['id']}/capture", json={})
    withdrawal = paypal.simulator.settle()
    assert withdrawal["transaction_amount"]["value"] == "-138.48"
    report = (
        await paypal.client.get(
            "/v1/reporting/transactions",
            params={"start_date": "2000-01-01T00:00:00Z", "end_date": "2000-01-31T00:00:00Z"},
        )
    ).json()
    assert report["transaction_details"] == []
    too_long = await paypal.client.get(
        "/v1/reporting/transactions",
        params={"start_date": "2000-01-01T00:00:00Z", "end_date": "2000-03-01T00:00:00Z"},
    )
    assert too_long.status_code == 400
