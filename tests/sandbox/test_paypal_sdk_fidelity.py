"""Fidelity: PayPal's official server SDK (``paypal-server-sdk``), pointed at the simulator.

``paypal-server-sdk`` is a dev dependency, imported plainly (a broken install fails). The
SDK's ``Environment`` offers only PayPal's two hosts (PRODUCTION, SANDBOX); there is no
base-URL option. Its client does take a ``config=`` ``Configuration`` and asks it for the host
through the public ``get_base_uri`` method, so ``SandboxConfiguration`` overrides that one
method and the SDK's OAuth flow, request building and model parsing run unchanged against the
loopback simulator.

A card payment follows Puente's flow: create the order, the payer approves it on PayPal's page
(the simulator's ``/_orders/{id}/approve``, the name on the card picking the outcome), capture.
PayPal has no SPEI or OXXO, so there are no references here. The SDK has no webhook verifier:
the check below is PayPal's documented offline one (CRC32 of the body, SHA256withRSA with the
certificate at ``PAYPAL-CERT-URL``), plus its ``verify-webhook-signature`` endpoint.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from paypalserversdk.configuration import Configuration, Server
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.exceptions.o_auth_provider_exception import (
    OAuthProviderException,
)
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient
from tests.sandbox.loopback import serve_on_loopback, wait_until

from puente_sandbox.paypal import create_paypal_sandbox

CLIENT_ID = "AZsdk-fidelity-client-id-0000000000000000000"
CLIENT_SECRET = "EPsdk-fidelity-client-secret-00000000000000"
WEBHOOK_ID = "8PT597110X687430LKGFIDEL"
NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
WINDOW = {"start_date": "2027-01-14T00:00:00Z", "end_date": "2027-01-16T00:00:00Z"}


class SandboxConfiguration(Configuration):
    """The SDK's configuration with the simulator as its one server."""

    def __init__(self, base_url: str, **kwargs: Any) -> None:
        self.base_url = base_url
        super().__init__(**kwargs)

    def get_base_uri(self, server: Server = Server.DEFAULT) -> str:
        return self.base_url


def sdk_client(base_url: str, secret: str = CLIENT_SECRET) -> PaypalServersdkClient:
    credentials = ClientCredentialsAuthCredentials(
        o_auth_client_id=CLIENT_ID, o_auth_client_secret=secret
    )
    config = SandboxConfiguration(base_url, client_credentials_auth_credentials=credentials)
    return PaypalServersdkClient(config=config)


class Sandbox:
    def __init__(self, base_url: str, received: list[httpx.Request]) -> None:
        self.base_url = base_url
        self.received = received
        self.client = sdk_client(base_url)

    def approved_order(self, name: str, value: str = "150.00") -> str:
        """An order the sandbox payer approved with a card bearing ``name``."""
        body = OrderRequest(
            intent=CheckoutPaymentIntent.CAPTURE,
            purchase_units=[
                PurchaseUnitRequest(
                    amount=AmountWithBreakdown(currency_code="MXN", value=value),
                    custom_id=f"sdk-{name}",
                )
            ],
        )
        order = self.client.orders.create_order(
            {"body": body, "paypal_request_id": f"order-{name}", "prefer": "return=representation"}
        ).body
        assert order.status == "CREATED"
        assert "approve" in {link.rel for link in order.links}
        answer = httpx.post(f"{self.base_url}/_orders/{order.id}/approve", json={"name": name})
        assert answer.status_code == 200
        return order.id


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    received: list[httpx.Request] = []

    def inbox(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(200)

    app = create_paypal_sandbox(
        {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID},
        "http://puente.test/webhooks/paypal",
        httpx.MockTransport(inbox),
        lambda: NOW,
        seed=13,
    )
    with serve_on_loopback(app) as base_url:
        yield Sandbox(base_url, received)


def test_sdk_card_capture_refund_and_search(sandbox: Sandbox) -> None:
    orders, payments = sandbox.client.orders, sandbox.client.payments
    order_id = sandbox.approved_order("Ana Lopez")
    captured = orders.capture_order(
        {"id": order_id, "paypal_request_id": "capture-1", "prefer": "return=representation"}
    ).body
    assert captured.status == "COMPLETED"
    capture = captured.purchase_units[0].payments.captures[0]
    assert (capture.status, capture.amount.value) == ("COMPLETED", "150.00")
    breakdown = capture.seller_receivable_breakdown
    assert breakdown.gross_amount.value == "150.00" and breakdown.net_amount.value

    assert orders.get_order({"id": order_id}).body.status == "COMPLETED"
    refund = payments.refund_captured_payment(
        {
            "capture_id": capture.id,
            "body": RefundRequest(amount=Money(currency_code="MXN", value="50.00")),
            "paypal_request_id": "refund-1",
            "prefer": "return=representation",
        }
    ).body
    assert (refund.status, refund.amount.value) == ("COMPLETED", "50.00")
    assert payments.get_refund({"refund_id": refund.id}).body.status == "COMPLETED"
    got = payments.get_captured_payment({"capture_id": capture.id}).body
    assert got.status == "PARTIALLY_REFUNDED"

    lines = sandbox.client.transaction_search.search_transactions({**WINDOW, "fields": "all"})
    codes = [d.transaction_info.transaction_event_code for d in lines.body.transaction_details]
    assert sorted(codes) == ["T0006", "T1107"]

    with pytest.raises(ErrorException) as caught:
        orders.get_order({"id": "5O190127TN364715T"})
    assert caught.value.response_code == 404


def test_sdk_card_declines(sandbox: Sandbox) -> None:
    orders = sandbox.client.orders
    # PayPal's rejection trigger as the card holder's name: a DECLINED capture.
    refused = orders.capture_order({"id": sandbox.approved_order("CCREJECT-REFUSED")}).body
    declined = refused.purchase_units[0].payments.captures[0]
    assert declined.status == "DECLINED"
    assert declined.processor_response.response_code == "0500"

    # PayPal's negative testing header: the capture call itself fails.
    order_id = sandbox.approved_order("Luis Perez")
    mock = json.dumps({"mock_application_codes": "INSTRUMENT_DECLINED"})
    with pytest.raises(ErrorException) as caught:
        orders.capture_order({"id": order_id, "paypal_mock_response": mock})
    assert caught.value.response_code == 422
    assert caught.value.details[0].issue == "INSTRUMENT_DECLINED"

    stranger = sdk_client(sandbox.base_url, secret="EPnot-the-secret")
    wrong = base64.b64encode(f"{CLIENT_ID}:EPnot-the-secret".encode()).decode()
    with pytest.raises(OAuthProviderException) as refused_token:
        stranger.o_auth_authorization.request_token({"authorization": f"Basic {wrong}"})
    assert refused_token.value.error == "invalid_client"


def verify_paypal_offline(raw_body: bytes, headers: httpx.Headers, certificate: bytes) -> None:
    """PayPal's documented offline check; raises ``InvalidSignature`` on a forged delivery."""
    crc = zlib.crc32(raw_body) & 0xFFFFFFFF
    message = "|".join(
        [
            headers["PAYPAL-TRANSMISSION-ID"],
            headers["PAYPAL-TRANSMISSION-TIME"],
            WEBHOOK_ID,
            str(crc),
        ]
    )
    key = x509.load_pem_x509_certificate(certificate).public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    signature = base64.b64decode(headers["PAYPAL-TRANSMISSION-SIG"])
    key.verify(signature, message.encode(), padding.PKCS1v15(), hashes.SHA256())


def test_sandbox_webhooks_pass_paypal_verification(sandbox: Sandbox) -> None:
    sandbox.client.orders.capture_order({"id": sandbox.approved_order("Eva Ruiz")})

    def completed() -> list[httpx.Request]:
        return [
            r
            for r in sandbox.received
            if json.loads(r.content)["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
        ]

    wait_until(lambda: bool(completed()))
    delivery = completed()[0]
    headers = delivery.headers
    assert headers["PAYPAL-AUTH-ALGO"] == "SHA256withRSA"
    cert_url = headers["PAYPAL-CERT-URL"]
    assert cert_url.startswith(sandbox.base_url + "/v1/notifications/certs/")
    certificate = httpx.get(cert_url).content

    verify_paypal_offline(delivery.content, headers, certificate)
    tampered = delivery.content.replace(b"COMPLETED", b"DECLINED")
    with pytest.raises(InvalidSignature):
        verify_paypal_offline(tampered, headers, certificate)

    token = sandbox.client.o_auth_authorization.request_token(
        {
            "authorization": "Basic "
            + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        }
    ).body.access_token
    online = httpx.post(
        f"{sandbox.base_url}/v1/notifications/verify-webhook-signature",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "auth_algo": headers["PAYPAL-AUTH-ALGO"],
            "cert_url": cert_url,
            "transmission_id": headers["PAYPAL-TRANSMISSION-ID"],
            "transmission_sig": headers["PAYPAL-TRANSMISSION-SIG"],
            "transmission_time": headers["PAYPAL-TRANSMISSION-TIME"],
            "webhook_id": WEBHOOK_ID,
            "webhook_event": json.loads(delivery.content),
        },
    )
    assert online.json() == {"verification_status": "SUCCESS"}
