"""The PayPal connector: OAuth, exact requests on the wire, and every answer normalised."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from tests.providers.support import Handler, mock_connector, recording

from puente.providers.base import (
    AuthenticationError,
    ChargeRequest,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    NotSupported,
    PaymentDeclined,
    PaymentMethod,
    PaymentStatus,
    ProviderUnavailable,
    RateLimited,
    ReferenceRequest,
)
from puente.providers.paypal import PayPalConnector
from puente.providers.paypal_mapping import paypal_order

pytestmark = pytest.mark.anyio

CLIENT_ID, SECRET = "AZclient-id-0123456789", "EPclient-secret-0123456789"
TOKEN = {"access_token": "A21AAtesttoken", "token_type": "Bearer", "expires_in": 32400}
CAPTURE = {
    "id": "3C679366HH908993F",
    "status": "COMPLETED",
    "amount": {"currency_code": "MXN", "value": "150.00"},
}
ORDER = {
    "id": "5O190127TN364715T",
    "intent": "CAPTURE",
    "status": "COMPLETED",
    "payment_source": {"card": {"name": "Ana", "last_digits": "1881", "brand": "VISA"}},
    "purchase_units": [
        {
            "reference_id": "default",
            "custom_id": "attempt-42",
            "amount": {"currency_code": "MXN", "value": "150.00"},
            "payments": {"captures": [CAPTURE]},
        }
    ],
    "create_time": "2024-05-10T19:43:14Z",
    "links": [],
}


@pytest.fixture
def connect() -> Callable[..., PayPalConnector]:
    def build(handler: Handler) -> PayPalConnector:
        credentials = {"client_id": CLIENT_ID, "client_secret": SECRET, "webhook_id": "WH-1"}
        return mock_connector(PayPalConnector, credentials, handler)

    return build


def with_token(then: Callable[[httpx.Request], httpx.Response]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/oauth2/token":
            return httpx.Response(200, json=TOKEN)
        return then(request)

    return handler


async def test_capture_sends_oauth_then_the_exact_paypal_request(connect) -> None:
    handler, seen = recording(with_token(lambda r: httpx.Response(201, json=ORDER)))
    async with connect(handler) as paypal:
        payment = await paypal.charge(
            ChargeRequest(
                amount=Decimal("150.00"), token="5O190127TN364715T", idempotency_key="attempt-42"
            )
        )
        await paypal.get_payment("5O190127TN364715T")
    token_request, capture, get = seen
    assert token_request.method == "POST"
    assert str(token_request.url) == "https://api-m.paypal.com/v1/oauth2/token"
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert token_request.headers["Authorization"] == f"Basic {basic}"
    assert token_request.content == b"grant_type=client_credentials"
    assert capture.method == "POST"
    assert str(capture.url) == (
        "https://api-m.paypal.com/v2/checkout/orders/5O190127TN364715T/capture"
    )
    assert capture.headers["Authorization"] == "Bearer A21AAtesttoken"
    assert capture.headers["PayPal-Request-Id"] == "attempt-42"
    assert capture.headers["Prefer"] == "return=representation"
    assert capture.headers["Content-Type"] == "application/json"
    assert capture.content == b"{}"
    assert get.headers["Authorization"] == "Bearer A21AAtesttoken"  # token cached, not refetched
    assert "PayPal-Request-Id" not in get.headers
    assert payment.status is PaymentStatus.SUCCEEDED and payment.method is PaymentMethod.CARD


async def test_create_order_body_and_approval_link(connect) -> None:
    created = {
        **ORDER,
        "status": "PAYER_ACTION_REQUIRED",
        "payment_source": {"paypal": {}},
        "purchase_units": [{**ORDER["purchase_units"][0], "payments": {}}],
        "links": [
            {
                "rel": "payer-action",
                "href": "https://www.paypal.com/checkoutnow?token=5O190127TN364715T",
            }
        ],
    }
    handler, seen = recording(with_token(lambda r: httpx.Response(201, json=created)))
    async with connect(handler) as paypal:
        payment = await paypal.create_order(
            Decimal("150.00"),
            idempotency_key="attempt-42",
            description="Colegiatura",
            return_url="https://puente.test/pagos/vuelta",
        )
    body = json.loads(seen[1].content)
    assert body == {
        "intent": "CAPTURE",
        "purchase_units": [
            {
                "reference_id": "default",
                "custom_id": "attempt-42",
                "amount": {"currency_code": "MXN", "value": "150.00"},
                "description": "Colegiatura",
            }
        ],
        "payment_source": {
            "paypal": {
                "experience_context": {
                    "return_url": "https://puente.test/pagos/vuelta",
                    "cancel_url": "https://puente.test/pagos/vuelta",
                    "user_action": "PAY_NOW",
                    "shipping_preference": "NO_SHIPPING",
                    "locale": "es-MX",
                }
            }
        },
    }
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.next_action.redirect_url.endswith("token=5O190127TN364715T")


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("5120", InsufficientFunds),
        ("5400", ExpiredCard),
        ("0500", PaymentDeclined),
        ("9999", PaymentDeclined),
    ],
)
async def test_declined_capture_is_a_decline_with_the_order(connect, code, error) -> None:
    declined = {
        **ORDER,
        "purchase_units": [
            {
                **ORDER["purchase_units"][0],
                "payments": {
                    "captures": [
                        {
                            **CAPTURE,
                            "status": "DECLINED",
                            "processor_response": {"response_code": code},
                        }
                    ]
                },
            }
        ],
    }
    async with connect(with_token(lambda r: httpx.Response(201, json=declined))) as paypal:
        with pytest.raises(error) as caught:
            await paypal.charge(
                ChargeRequest(amount=Decimal("150.00"), token="X", idempotency_key="k")
            )
    assert type(caught.value) is error
    assert caught.value.provider_code == code
    assert caught.value.payment.status is PaymentStatus.FAILED


@pytest.mark.parametrize(
    ("order_status", "capture_status", "expected"),
    [
        ("CREATED", None, PaymentStatus.REQUIRES_ACTION),
        ("PAYER_ACTION_REQUIRED", None, PaymentStatus.REQUIRES_ACTION),
        ("APPROVED", None, PaymentStatus.PENDING),
        ("VOIDED", None, PaymentStatus.CANCELED),
        ("COMPLETED", "COMPLETED", PaymentStatus.SUCCEEDED),
        ("COMPLETED", "PENDING", PaymentStatus.PENDING),
        ("COMPLETED", "PARTIALLY_REFUNDED", PaymentStatus.PARTIALLY_REFUNDED),
        ("COMPLETED", "REFUNDED", PaymentStatus.REFUNDED),
        ("COMPLETED", "FAILED", PaymentStatus.FAILED),
    ],
)
def test_order_and_capture_statuses_are_mapped(order_status, capture_status, expected) -> None:
    payments = {"captures": [{**CAPTURE, "status": capture_status}]} if capture_status else {}
    order = {
        **ORDER,
        "status": order_status,
        "purchase_units": [{**ORDER["purchase_units"][0], "payments": payments}],
    }
    assert paypal_order(order).status is expected


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (
            422,
            {
                "name": "UNPROCESSABLE_ENTITY",
                "message": "...",
                "debug_id": "d1",
                "details": [{"issue": "INSTRUMENT_DECLINED", "description": "declined"}],
            },
            PaymentDeclined,
            "INSTRUMENT_DECLINED",
        ),
        (
            422,
            {
                "name": "UNPROCESSABLE_ENTITY",
                "message": "...",
                "debug_id": "d1",
                "details": [{"issue": "ORDER_NOT_APPROVED", "description": "not approved"}],
            },
            InvalidRequest,
            "ORDER_NOT_APPROVED",
        ),
        (
            404,
            {
                "name": "RESOURCE_NOT_FOUND",
                "message": "gone",
                "debug_id": "d2",
                "details": [{"issue": "INVALID_RESOURCE_ID", "description": "no such id"}],
            },
            NotFound,
            "INVALID_RESOURCE_ID",
        ),
        (
            429,
            {"name": "RATE_LIMIT_REACHED", "message": "slow down", "debug_id": "d3"},
            RateLimited,
            "RATE_LIMIT_REACHED",
        ),
        (
            503,
            {"name": "SERVICE_UNAVAILABLE", "message": "down", "debug_id": "d4"},
            ProviderUnavailable,
            "SERVICE_UNAVAILABLE",
        ),
    ],
)
async def test_error_bodies_keep_paypal_issue(connect, status, body, error, code) -> None:
    async with connect(with_token(lambda r: httpx.Response(status, json=body))) as paypal:
        with pytest.raises(error) as caught:
            await paypal.get_payment("5O190127TN364715T")
    assert caught.value.provider_code == code


async def test_refused_client_credentials_are_an_authentication_error(connect) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            401,
            json={"error": "invalid_client", "error_description": "Client Authentication failed"},
        )

    async with connect(handler) as paypal:
        with pytest.raises(AuthenticationError) as caught:
            await paypal.get_payment("5O190127TN364715T")
    assert SECRET not in str(caught.value) and caught.value.provider_code == "invalid_client"


@pytest.mark.parametrize(
    "body",
    [b"not json", json.dumps({**ORDER, "status": "??"}).encode(), json.dumps({"id": "X"}).encode()],
)
async def test_unreadable_answers_are_malformed(connect, body: bytes) -> None:
    async with connect(with_token(lambda r: httpx.Response(200, content=body))) as paypal:
        with pytest.raises(MalformedResponse):
            await paypal.get_payment("5O190127TN364715T")


async def test_refund_finds_the_capture_and_sends_paypal_money(connect) -> None:
    def refund_api(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json=ORDER)
        return httpx.Response(
            201,
            json={
                "id": "1JU08902781691411",
                "status": "COMPLETED",
                "amount": {"currency_code": "MXN", "value": "40.00"},
            },
        )

    handler, seen = recording(with_token(refund_api))
    async with connect(handler) as paypal:
        refund = await paypal.refund("5O190127TN364715T", Decimal("40.00"), idempotency_key="r-1")
    post = seen[-1]
    assert post.url.path == "/v2/payments/captures/3C679366HH908993F/refund"
    assert json.loads(post.content) == {"amount": {"currency_code": "MXN", "value": "40.00"}}
    assert post.headers["PayPal-Request-Id"] == "r-1"
    assert refund.payment_id == "5O190127TN364715T" and refund.amount == Decimal("40.00")


async def test_no_spei_or_oxxo_at_paypal(connect) -> None:
    async with connect(with_token(lambda r: httpx.Response(500))) as paypal:
        assert PaymentMethod.SPEI not in paypal.methods
        with pytest.raises(NotSupported):
            await paypal.create_spei_reference(
                ReferenceRequest(amount=Decimal("10"), idempotency_key="k")
            )
        with pytest.raises(NotSupported):
            await paypal.create_cash_reference(
                ReferenceRequest(amount=Decimal("10"), idempotency_key="k")
            )
