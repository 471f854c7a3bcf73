"""Conekta webhook signatures (RSA over the raw body) and event normalisation."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from puente.providers.base import (
    EventKind,
    InvalidSignature,
    MalformedWebhook,
    ProviderConfigError,
    StaleSignature,
)
from puente.providers.conekta_webhooks import (
    load_conekta_webhook_keys,
    normalise_conekta_event,
    sign_conekta_payload,
    verify_conekta_signature,
)
from puente_sandbox.conekta_objects import public_pem, sandbox_signing_key

NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
KEY = sandbox_signing_key()
PUBLIC = load_conekta_webhook_keys(public_pem(KEY))


def event(event_type: str = "order.paid", **obj: Any) -> dict[str, Any]:
    order = {"id": "ord_2tTest", "object": "order", "amount": 15000, **obj}
    return {
        "id": "63f4c0ffee0c0ffee0c0ffee",
        "object": "event",
        "type": event_type,
        "created_at": int(NOW.timestamp()),
        "livemode": False,
        "data": {"object": order, "previous_attributes": {}},
        "webhook_status": "pending",
        "webhook_logs": [],
    }


def signed(body: dict[str, Any], key: rsa.RSAPrivateKey = KEY) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body, indent=2).encode()
    return raw, {"Digest": sign_conekta_payload(raw, key)}


def test_a_signed_delivery_verifies_and_normalises() -> None:
    raw, headers = signed(event())
    normalised = verify_conekta_signature(raw, headers, PUBLIC, now=NOW)
    assert normalised.provider == "conekta"
    assert normalised.event_id == "63f4c0ffee0c0ffee0c0ffee"
    assert normalised.kind is EventKind.PAYMENT_SUCCEEDED
    assert normalised.provider_payment_id == "ord_2tTest"
    assert normalised.amount == Decimal("150.00")
    assert normalised.occurred_at == NOW


def test_the_header_is_case_insensitive_and_may_carry_an_algorithm_label() -> None:
    raw, headers = signed(event())
    for variant in ({"digest": headers["Digest"]}, {"DIGEST": "SHA-256=" + headers["Digest"]}):
        normalised = verify_conekta_signature(raw, variant, PUBLIC, now=NOW)
        assert normalised.event_id == "63f4c0ffee0c0ffee0c0ffee"


def test_a_changed_body_or_another_key_is_invalid() -> None:
    raw, headers = signed(event())
    with pytest.raises(InvalidSignature):
        verify_conekta_signature(raw.replace(b"15000", b"15001"), headers, PUBLIC, now=NOW)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    raw, headers = signed(event(), other)
    with pytest.raises(InvalidSignature):
        verify_conekta_signature(raw, headers, PUBLIC, now=NOW)


@pytest.mark.parametrize("digest", ["not base64!", base64.b64encode(b"short").decode(), ""])
def test_garbage_signatures_are_invalid_or_malformed(digest: str) -> None:
    raw, _ = signed(event())
    expected = MalformedWebhook if not digest else InvalidSignature
    with pytest.raises(expected):
        verify_conekta_signature(raw, {"Digest": digest}, PUBLIC, now=NOW)


def test_a_missing_header_is_malformed() -> None:
    raw, _ = signed(event())
    with pytest.raises(MalformedWebhook):
        verify_conekta_signature(raw, {"Content-Type": "application/json"}, PUBLIC, now=NOW)


def test_age_is_judged_on_the_signed_created_at() -> None:
    raw, headers = signed(event())
    later = NOW + timedelta(seconds=301)
    with pytest.raises(StaleSignature):
        verify_conekta_signature(raw, headers, PUBLIC, now=later)
    # Conekta re-sends the same event on failure: a wider window (or none) accepts it.
    verify_conekta_signature(raw, headers, PUBLIC, now=later, tolerance=3 * 86400)
    verify_conekta_signature(raw, headers, PUBLIC, now=later + timedelta(days=9), tolerance=0)


def test_a_second_key_verifies_during_a_rotation() -> None:
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    both = load_conekta_webhook_keys(public_pem(KEY) + public_pem(new))
    for key in (KEY, new):
        raw, headers = signed(event(), key)
        assert verify_conekta_signature(raw, headers, both, now=NOW).provider == "conekta"


def test_a_pem_with_escaped_newlines_loads() -> None:
    escaped = public_pem(KEY).replace("\n", "\\n")
    assert len(load_conekta_webhook_keys(escaped)) == 1
    with pytest.raises(ProviderConfigError):
        load_conekta_webhook_keys("")


def test_a_signed_body_that_is_not_an_event_is_malformed() -> None:
    for body in (b"not json", b"[1, 2]", json.dumps({"type": "order.paid"}).encode()):
        with pytest.raises(MalformedWebhook):
            verify_conekta_signature(
                body, {"Digest": sign_conekta_payload(body, KEY)}, PUBLIC, now=NOW
            )


WAITING = {"charges": {"data": [{"payment_method": {"object": "cash_payment"}}]}}
CARD = {"charges": {"data": [{"payment_method": {"object": "card_payment"}}]}}


@pytest.mark.parametrize(
    ("event_type", "obj", "kind"),
    [
        ("order.paid", {}, EventKind.PAYMENT_SUCCEEDED),
        ("order.pending_payment", WAITING, EventKind.PAYMENT_REQUIRES_ACTION),
        ("order.pending_payment", CARD, EventKind.PAYMENT_PENDING),
        ("order.declined", {}, EventKind.PAYMENT_FAILED),
        ("order.expired", {}, EventKind.PAYMENT_EXPIRED),
        ("order.canceled", {}, EventKind.PAYMENT_CANCELED),
        ("order.voided", {}, EventKind.PAYMENT_CANCELED),
        ("order.partially_refunded", {"amount_refunded": 4000}, EventKind.PAYMENT_REFUNDED),
        ("order.refunded", {"amount_refunded": 15000}, EventKind.PAYMENT_REFUNDED),
        ("order.charged_back", {}, EventKind.CHARGEBACK),
        ("order.created", {}, EventKind.IGNORED),
        ("charge.paid", {"order_id": "ord_2tTest"}, EventKind.IGNORED),
        ("webhook_ping", {}, EventKind.IGNORED),
        ("order.brand_new_state", {}, EventKind.UNKNOWN),
        ("brand_new.thing", {}, EventKind.UNKNOWN),
    ],
)
def test_event_kinds(event_type: str, obj: dict[str, Any], kind: EventKind) -> None:
    normalised = normalise_conekta_event(event(event_type, **obj))
    assert normalised.kind is kind


def test_a_refund_event_carries_the_amount_refunded_so_far() -> None:
    normalised = normalise_conekta_event(event("order.partially_refunded", amount_refunded=4000))
    assert normalised.amount == Decimal("40.00")
    charge = normalise_conekta_event(event("charge.refunded", order_id="ord_9"))
    assert charge.provider_payment_id == "ord_9"
