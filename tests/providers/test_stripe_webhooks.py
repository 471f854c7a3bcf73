"""Stripe webhook signatures and event normalisation (pure functions)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from puente.providers.errors import InvalidSignature, MalformedWebhook, StaleSignature
from puente.providers.stripe_webhooks import (
    normalise_stripe_event,
    stripe_signature_header,
    verify_stripe_signature,
)
from puente.providers.values import EventKind

SECRET = "whsec_test_secret"
NOW = datetime.fromtimestamp(1_700_000_000, UTC)
T = 1_700_000_000


def event(event_type: str, obj: dict, created: int = T) -> bytes:
    body = {
        "id": "evt_1",
        "object": "event",
        "type": event_type,
        "created": created,
        "data": {"object": obj},
        "livemode": False,
    }
    return json.dumps(body, indent=2).encode()


BODY = event(
    "payment_intent.succeeded",
    {"id": "pi_1", "object": "payment_intent", "amount": 15000, "amount_received": 15000},
)


def test_header_is_the_documented_hmac() -> None:
    # Stripe docs: expected = hex(HMAC_SHA256(key=secret, msg=f"{t}.{raw_body}")).
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert stripe_signature_header(BODY, SECRET, T) == f"t={T},v1={expected}"


def test_valid_signature_gives_a_normalised_event() -> None:
    headers = {"stripe-signature": stripe_signature_header(BODY, SECRET, T)}
    result = verify_stripe_signature(BODY, headers, SECRET, now=NOW)
    assert result.kind is EventKind.PAYMENT_SUCCEEDED
    assert result.provider_payment_id == "pi_1"
    assert result.amount == Decimal("150.00")
    assert result.occurred_at == NOW


def test_any_v1_matches_and_rotated_secrets_work() -> None:
    good = stripe_signature_header(BODY, SECRET, T).split(",")[1]
    header = f"t={T},v1={'0' * 64},{good},v0=ignored"
    assert verify_stripe_signature(BODY, {"Stripe-Signature": header}, SECRET, now=NOW)
    rotated = stripe_signature_header(BODY, "whsec_new", T)
    assert verify_stripe_signature(
        BODY, {"Stripe-Signature": rotated}, ["whsec_old", "whsec_new"], now=NOW
    )


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, MalformedWebhook),
        ({"Stripe-Signature": "garbage"}, MalformedWebhook),
        ({"Stripe-Signature": "t=abc,v1=00"}, MalformedWebhook),
        ({"Stripe-Signature": f"t={T}"}, InvalidSignature),
        ({"Stripe-Signature": f"t={T},v1={'a' * 64}"}, InvalidSignature),
        ({"Stripe-Signature": stripe_signature_header(BODY, "whsec_other", T)}, InvalidSignature),
        # a signature made for another timestamp, replayed under a fresh ``t``
        (
            {"Stripe-Signature": f"t={T + 1}," + stripe_signature_header(BODY, SECRET, T)[13:]},
            InvalidSignature,
        ),
    ],
)
def test_bad_signatures_are_refused(headers: dict, error: type) -> None:
    with pytest.raises(error):
        verify_stripe_signature(BODY, headers, SECRET, now=NOW)


def test_tampered_body_is_refused() -> None:
    headers = {"Stripe-Signature": stripe_signature_header(BODY, SECRET, T)}
    with pytest.raises(InvalidSignature):
        verify_stripe_signature(BODY.replace(b"15000", b"99999"), headers, SECRET, now=NOW)


def test_staleness_uses_the_tolerance_and_accepts_future_timestamps() -> None:
    old = stripe_signature_header(BODY, SECRET, T - 301)
    with pytest.raises(StaleSignature):
        verify_stripe_signature(BODY, {"Stripe-Signature": old}, SECRET, now=NOW)
    assert verify_stripe_signature(BODY, {"Stripe-Signature": old}, SECRET, now=NOW, tolerance=600)
    future = stripe_signature_header(BODY, SECRET, T + 3600)
    assert verify_stripe_signature(BODY, {"Stripe-Signature": future}, SECRET, now=NOW)


def test_signed_non_json_is_malformed() -> None:
    body = b"not json"
    headers = {"Stripe-Signature": stripe_signature_header(body, SECRET, T)}
    with pytest.raises(MalformedWebhook):
        verify_stripe_signature(body, headers, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("event_type", "obj", "kind", "payment_id"),
    [
        (
            "payment_intent.payment_failed",
            {"id": "pi_1", "last_payment_error": {"code": "x"}},
            EventKind.PAYMENT_FAILED,
            "pi_1",
        ),
        (
            "payment_intent.payment_failed",
            {
                "id": "pi_1",
                "last_payment_error": {"code": "payment_intent_payment_attempt_expired"},
            },
            EventKind.PAYMENT_EXPIRED,
            "pi_1",
        ),
        ("payment_intent.canceled", {"id": "pi_1"}, EventKind.PAYMENT_CANCELED, "pi_1"),
        (
            "payment_intent.requires_action",
            {"id": "pi_1"},
            EventKind.PAYMENT_REQUIRES_ACTION,
            "pi_1",
        ),
        ("payment_intent.partially_funded", {"id": "pi_1"}, EventKind.PAYMENT_PENDING, "pi_1"),
        (
            "charge.refunded",
            {"id": "ch_1", "payment_intent": "pi_1", "amount_refunded": 100},
            EventKind.PAYMENT_REFUNDED,
            "pi_1",
        ),
        (
            "charge.dispute.created",
            {"id": "dp_1", "payment_intent": "pi_1", "amount": 100},
            EventKind.CHARGEBACK,
            "pi_1",
        ),
        ("charge.succeeded", {"id": "ch_1", "payment_intent": "pi_1"}, EventKind.IGNORED, "pi_1"),
        ("payout.paid", {"id": "po_1", "amount": 100}, EventKind.PAYOUT_PAID, None),
        ("customer.created", {"id": "cus_1"}, EventKind.IGNORED, None),
        ("issuing_card.created", {"id": "ic_1"}, EventKind.UNKNOWN, None),
        ("payment_intent.brand_new", {"id": "pi_1"}, EventKind.UNKNOWN, "pi_1"),
    ],
)
def test_event_kinds(event_type: str, obj: dict, kind: EventKind, payment_id) -> None:
    normalised = normalise_stripe_event(json.loads(event(event_type, obj)))
    assert normalised.kind is kind
    assert normalised.provider_payment_id == payment_id


@pytest.mark.parametrize("body", [[], {"type": "x"}, {"id": "evt", "type": "x", "created": "y"}])
def test_events_without_id_type_or_time_are_malformed(body) -> None:
    with pytest.raises(MalformedWebhook):
        normalise_stripe_event(body)
