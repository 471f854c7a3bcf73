"""Mercado Pago's x-signature scheme, checked against a hand-computed manifest."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from puente.providers.base import (
    EventKind,
    InvalidSignature,
    MalformedWebhook,
    PaymentMethod,
    PaymentStatus,
    ProviderPayment,
    StaleSignature,
)
from puente.providers.mercadopago_webhooks import (
    mercadopago_manifest,
    mercadopago_signature_headers,
    resolved_payment_event,
    verify_mercadopago_signature,
)

SECRET = "mp_webhook_secret_123"
TS = 1704908010
NOW = datetime.fromtimestamp(TS + 5, UTC)
BODY = json.dumps(
    {
        "id": 12345,
        "live_mode": False,
        "type": "payment",
        "date_created": "2024-01-10T14:33:30Z",
        "user_id": 44444,
        "api_version": "v1",
        "action": "payment.updated",
        "data": {"id": "123456"},
    }
).encode()


def test_manifest_is_mercadopagos_template_with_missing_pairs_left_out() -> None:
    assert mercadopago_manifest("123456", "req-1", "1704908010") == (
        "id:123456;request-id:req-1;ts:1704908010;"
    )
    assert mercadopago_manifest(None, "req-1", "1") == "request-id:req-1;ts:1;"
    assert mercadopago_manifest("ABC123", None, "1") == "id:abc123;ts:1;"  # alphanumeric: lower


def test_signature_is_hex_hmac_sha256_of_the_manifest() -> None:
    headers = mercadopago_signature_headers("123456", SECRET, TS, "req-1")
    expected = hmac.new(
        SECRET.encode(), b"id:123456;request-id:req-1;ts:1704908010;", hashlib.sha256
    ).hexdigest()
    assert headers == {"x-signature": f"ts={TS},v1={expected}", "x-request-id": "req-1"}


def test_valid_notification_is_a_payment_hint_to_resolve() -> None:
    headers = mercadopago_signature_headers("123456", SECRET, TS, "req-1")
    event = verify_mercadopago_signature(BODY, headers, SECRET, now=NOW)
    assert event.event_id == "12345" and event.type == "payment.updated"
    assert event.kind is EventKind.UNKNOWN and event.provider_payment_id == "123456"


def test_query_data_id_must_match_the_body() -> None:
    headers = mercadopago_signature_headers("123456", SECRET, TS, "req-1")
    query = {"data.id": "123456", "type": "payment"}
    assert verify_mercadopago_signature(BODY, headers, SECRET, query=query, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_mercadopago_signature(BODY, headers, SECRET, query={"data.id": "999"}, now=NOW)


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, MalformedWebhook),
        ({"x-signature": "v1=abc"}, MalformedWebhook),
        ({"x-signature": f"ts={TS}"}, InvalidSignature),
        ({"x-signature": f"ts={TS},v1=00", "x-request-id": "req-1"}, InvalidSignature),
    ],
)
def test_bad_headers(headers: dict[str, str], error: type) -> None:
    with pytest.raises(error):
        verify_mercadopago_signature(BODY, headers, SECRET, now=NOW)


def test_other_request_id_secret_or_age_fail() -> None:
    headers = mercadopago_signature_headers("123456", SECRET, TS, "req-1")
    with pytest.raises(InvalidSignature):
        verify_mercadopago_signature(BODY, {**headers, "x-request-id": "req-2"}, SECRET, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_mercadopago_signature(BODY, headers, "other", now=NOW)
    assert verify_mercadopago_signature(BODY, headers, ["old", SECRET], now=NOW)  # rotation
    with pytest.raises(StaleSignature):
        verify_mercadopago_signature(BODY, headers, SECRET, now=NOW + timedelta(minutes=10))
    millis = mercadopago_signature_headers("123456", SECRET, TS * 1000, "req-1")
    assert verify_mercadopago_signature(BODY, millis, SECRET, now=NOW)  # ts in milliseconds


def _payment(status: PaymentStatus, method: PaymentMethod, approved: bool) -> ProviderPayment:
    raw = {"date_approved": "2024-01-10T14:33:30Z" if approved else None}
    return ProviderPayment(
        "mercadopago",
        "123456",
        status,
        Decimal("150.00"),
        method,
        amount_refunded=Decimal("40.00"),
        raw=raw,
    )


@pytest.mark.parametrize(
    ("action", "status", "method", "approved", "kind"),
    [
        (
            "payment.created",
            PaymentStatus.REFUNDED,
            PaymentMethod.CARD,
            True,
            EventKind.PAYMENT_SUCCEEDED,
        ),  # how it started, not how it is now
        (
            "payment.created",
            PaymentStatus.FAILED,
            PaymentMethod.CARD,
            False,
            EventKind.PAYMENT_FAILED,
        ),
        (
            "payment.created",
            PaymentStatus.SUCCEEDED,
            PaymentMethod.SPEI,
            True,
            EventKind.PAYMENT_REQUIRES_ACTION,
        ),
        (
            "payment.updated",
            PaymentStatus.PARTIALLY_REFUNDED,
            PaymentMethod.CARD,
            True,
            EventKind.PAYMENT_REFUNDED,
        ),
        (
            "payment.updated",
            PaymentStatus.EXPIRED,
            PaymentMethod.CASH,
            False,
            EventKind.PAYMENT_EXPIRED,
        ),
        (
            "payment.updated",
            PaymentStatus.CHARGED_BACK,
            PaymentMethod.CARD,
            True,
            EventKind.CHARGEBACK,
        ),
    ],
)
def test_resolution_rules(action, status, method, approved, kind) -> None:
    body = json.loads(BODY) | {"action": action}
    headers = mercadopago_signature_headers("123456", SECRET, TS, "r")
    event = verify_mercadopago_signature(json.dumps(body).encode(), headers, SECRET, now=NOW)
    resolved = resolved_payment_event(event, _payment(status, method, approved))
    assert resolved.kind is kind
    expected = Decimal("40.00") if kind is EventKind.PAYMENT_REFUNDED else Decimal("150.00")
    assert resolved.amount == expected
