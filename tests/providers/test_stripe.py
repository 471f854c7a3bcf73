"""The Stripe connector: exact requests on the wire, and every answer normalised."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import pytest
from tests.providers.support import answer, recording

from puente.providers.base import (
    AuthenticationError,
    ChargeRequest,
    CustomerInfo,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PaymentDeclined,
    PaymentStatus,
    ProviderUnavailable,
    RateLimited,
    ReferenceRequest,
)

pytestmark = pytest.mark.anyio

SECRET_KEY = "sk_test_51UnitTestSecretKey0000"  # the key conftest.stripe_factory configures
PI = {
    "id": "pi_123",
    "object": "payment_intent",
    "amount": 15000,
    "currency": "mxn",
    "status": "succeeded",
    "payment_method_types": ["card"],
    "latest_charge": {"id": "ch_1", "object": "charge", "amount_refunded": 0, "disputed": False},
    "last_payment_error": None,
    "next_action": None,
    "customer": None,
    "created": 1_700_000_000,
    "metadata": {},
}


async def test_charge_sends_the_exact_stripe_request(stripe_factory) -> None:
    handler, seen = recording(lambda request: answer(PI))

    async with stripe_factory(handler) as stripe:
        await stripe.charge(
            ChargeRequest(
                amount=Decimal("150.00"),
                token="tok_visa",
                idempotency_key="attempt-42",
                description="Colegiatura",
                metadata={"installment": "inst_9"},
            )
        )
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://api.stripe.com/v1/payment_intents"
    assert request.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert request.headers["Idempotency-Key"] == "attempt-42"
    assert request.headers["Stripe-Version"] == "2024-06-20"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.content == (
        b"currency=mxn&confirm=true&amount=15000&payment_method_types[0]=card"
        b"&description=Colegiatura&metadata[installment]=inst_9"
        b"&payment_method_data[type]=card&payment_method_data[card][token]=tok_visa"
        b"&expand[0]=latest_charge"
    )


async def test_get_payment_sends_a_get_with_expand_in_the_query(stripe_factory) -> None:
    handler, seen = recording(lambda request: answer(PI))

    async with stripe_factory(handler, base_url="http://127.0.0.1:8000/sandbox/stripe") as s:
        payment = await s.get_payment("pi_123")
    assert payment.status is PaymentStatus.SUCCEEDED
    assert seen[0].method == "GET"
    assert seen[0].url.path == "/sandbox/stripe/v1/payment_intents/pi_123"
    assert seen[0].url.params.get("expand[0]") == "latest_charge"
    assert "Idempotency-Key" not in seen[0].headers
    assert seen[0].content == b""


async def test_spei_reference_request_shape(stripe_factory) -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        spei = {
            **PI,
            "status": "requires_action",
            "payment_method_types": ["customer_balance"],
            "latest_charge": None,
            "next_action": {
                "type": "display_bank_transfer_instructions",
                "display_bank_transfer_instructions": {
                    "amount_remaining": 15000,
                    "reference": "1234567",
                    "hosted_instructions_url": "https://example.test/i",
                    "financial_addresses": [
                        {
                            "type": "spei",
                            "spei": {
                                "clabe": "646180111805034237",
                                "bank_name": "STP",
                                "bank_code": "646",
                            },
                        }
                    ],
                },
            },
        }
        return answer(spei)

    async with stripe_factory(handler) as stripe:
        payment = await stripe.create_spei_reference(
            ReferenceRequest(amount=Decimal("150.00"), idempotency_key="k", customer_id="cus_1")
        )
    body = bodies[0].decode()
    assert "payment_method_types[0]=customer_balance" in body
    assert "payment_method_options[customer_balance][funding_type]=bank_transfer" in body
    assert "payment_method_options[customer_balance][bank_transfer][type]=mx_bank_transfer" in body
    assert payment.status is PaymentStatus.REQUIRES_ACTION
    assert payment.next_action is not None
    assert payment.next_action.clabe == "646180111805034237"
    assert payment.next_action.amount_remaining == Decimal("150.00")


async def test_oxxo_request_carries_billing_details_and_expiry(stripe_factory) -> None:
    bodies: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content.decode())
        oxxo = {
            **PI,
            "status": "requires_action",
            "payment_method_types": ["oxxo"],
            "latest_charge": None,
            "next_action": {
                "type": "oxxo_display_details",
                "oxxo_display_details": {
                    "number": "1234",
                    "expires_after": 1_700_086_400,
                    "hosted_voucher_url": "https://example.test/v",
                },
            },
        }
        return answer(oxxo)

    async with stripe_factory(handler) as stripe:
        payment = await stripe.create_cash_reference(
            ReferenceRequest(
                amount=Decimal("150.00"),
                idempotency_key="k",
                customer=CustomerInfo(name="Ana", email="ana@example.mx"),
                expires_after_days=2,
            )
        )
        with pytest.raises(InvalidRequest):
            await stripe.create_cash_reference(
                ReferenceRequest(amount=Decimal("10.00"), idempotency_key="k2")
            )
    assert "payment_method_data[billing_details][email]=ana%40example.mx" in bodies[0]
    assert "payment_method_options[oxxo][expires_after_days]=2" in bodies[0]
    assert payment.next_action and payment.next_action.voucher_url == "https://example.test/v"


def stripe_error(status: int, **error: object) -> httpx.Response:
    return answer({"error": error}, status)


@pytest.mark.parametrize(
    ("response", "error_class", "provider_code"),
    [
        (
            stripe_error(
                401,
                type="invalid_request_error",
                message=f"Invalid API Key provided: {SECRET_KEY[:8]}****0000",
            ),
            AuthenticationError,
            "invalid_request_error",
        ),
        (
            stripe_error(
                402,
                type="card_error",
                code="card_declined",
                decline_code="generic_decline",
                message="Your card was declined.",
            ),
            PaymentDeclined,
            "generic_decline",
        ),
        (
            stripe_error(
                402,
                type="card_error",
                code="card_declined",
                decline_code="insufficient_funds",
                message="x",
            ),
            InsufficientFunds,
            "insufficient_funds",
        ),
        (
            stripe_error(402, type="card_error", code="expired_card", message="x"),
            ExpiredCard,
            "expired_card",
        ),
        (
            stripe_error(404, type="invalid_request_error", code="resource_missing", message="x"),
            NotFound,
            "resource_missing",
        ),
        (
            stripe_error(400, type="idempotency_error", message="x"),
            InvalidRequest,
            "idempotency_error",
        ),
        (
            stripe_error(400, type="invalid_request_error", code="rate_limit", message="x"),
            RateLimited,
            "rate_limit",
        ),
        (httpx.Response(502, text="<html>Bad gateway</html>"), ProviderUnavailable, None),
        (httpx.Response(400, text="not json"), InvalidRequest, None),
        (answer({"error": "a string"}, 401), AuthenticationError, None),
    ],
)
async def test_errors_are_normalised(stripe_factory, response, error_class, provider_code):
    async with stripe_factory(lambda request: response) as stripe:
        with pytest.raises(error_class) as caught:
            await stripe.get_payment("pi_123")
    assert type(caught.value) is error_class
    assert caught.value.provider_code == provider_code
    assert caught.value.provider == "stripe"
    assert caught.value.http_status == response.status_code
    assert SECRET_KEY not in str(caught.value)


@pytest.mark.parametrize(
    "body",
    [
        "not json at all",
        json.dumps([1, 2, 3]),
        json.dumps({**PI, "status": "teleported"}),
        json.dumps({**PI, "amount": "lots"}),
        json.dumps({**PI, "payment_method_types": ["klarna"]}),
        json.dumps({"object": "payment_intent"}),
        json.dumps({**PI, "object": "charge"}),
    ],
)
async def test_malformed_answers_are_normalised_errors(stripe_factory, body: str) -> None:
    async with stripe_factory(lambda request: httpx.Response(200, text=body)) as stripe:
        with pytest.raises(MalformedResponse) as caught:
            await stripe.get_payment("pi_123")
    assert caught.value.code.value == "provider_unavailable"
    assert caught.value.retryable is False


async def test_unknown_status_keeps_the_providers_word(stripe_factory) -> None:
    body = {**PI, "status": "teleported"}
    async with stripe_factory(lambda request: answer(body)) as stripe:
        with pytest.raises(MalformedResponse) as caught:
            await stripe.get_payment("pi_123")
    assert caught.value.provider_code == "teleported"


@pytest.mark.parametrize(
    ("charge", "expected"),
    [
        ({"amount_refunded": 0, "disputed": False}, PaymentStatus.SUCCEEDED),
        ({"amount_refunded": 5000, "disputed": False}, PaymentStatus.PARTIALLY_REFUNDED),
        ({"amount_refunded": 15000, "disputed": False}, PaymentStatus.REFUNDED),
        ({"amount_refunded": 0, "disputed": True}, PaymentStatus.CHARGED_BACK),
    ],
)
async def test_succeeded_intent_reads_refunds_and_disputes(stripe_factory, charge, expected):
    body = {**PI, "latest_charge": {"id": "ch_1", "object": "charge", **charge}}
    async with stripe_factory(lambda request: answer(body)) as stripe:
        assert (await stripe.get_payment("pi_123")).status is expected


async def test_stripe_should_retry_header_wins(stripe_factory) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return answer(
            {"error": {"type": "api_error", "message": "x"}},
            500,
            **{"Stripe-Should-Retry": "false"},
        )

    async with stripe_factory(handler) as stripe:
        with pytest.raises(ProviderUnavailable) as caught:
            await stripe.charge(
                ChargeRequest(amount=Decimal("10.00"), token="tok_visa", idempotency_key="k")
            )
    assert len(calls) == 1
    assert caught.value.retryable is False


async def test_secret_never_logged(stripe_factory, caplog: pytest.LogCaptureFixture) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused while sending Bearer {SECRET_KEY}")

    with caplog.at_level(logging.DEBUG):
        async with stripe_factory(handler) as stripe:
            with pytest.raises(ProviderUnavailable) as caught:
                await stripe.get_payment("pi_123")
    assert SECRET_KEY not in caplog.text
    assert SECRET_KEY not in str(caught.value)
    assert SECRET_KEY not in repr(stripe) + repr(stripe.config)


async def test_listing_follows_pages_and_returns_oldest_first(stripe_factory) -> None:
    def txn(n: int) -> dict:
        return {
            "id": f"txn_{n}",
            "object": "balance_transaction",
            "amount": 1000 * n,
            "fee": 10,
            "net": 1000 * n - 10,
            "status": "pending",
            "type": "charge",
            "created": 1_700_000_000 + n,
            "currency": "mxn",
            "source": f"ch_{n}",
        }

    pages = {None: ([txn(3), txn(2)], True), "txn_2": ([txn(1)], False)}
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        cursor = request.url.params.get("starting_after")
        seen.append(dict(request.url.params))
        data, more = pages[cursor]
        return answer({"object": "list", "data": data, "has_more": more, "url": "/x"})

    from datetime import UTC, datetime

    async with stripe_factory(handler) as stripe:
        lines = await stripe.list_transactions(datetime.fromtimestamp(1_700_000_000, UTC))
    assert [line.provider_id for line in lines] == ["txn_1", "txn_2", "txn_3"]
    assert seen[0]["created[gte]"] == "1700000000" and seen[0]["limit"] == "100"
    assert lines[0].amount == Decimal("10.00") and lines[0].fee == Decimal("0.10")
