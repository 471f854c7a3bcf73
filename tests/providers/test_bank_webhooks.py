"""Webhooks of the generic bank contract: X-Signature t/v1 HMAC, rotation, staleness, types."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from puente.providers.bank_webhooks import verify_bank_signature
from puente.providers.base import EventKind, InvalidSignature, MalformedWebhook, StaleSignature
from puente.providers.signatures import compute_timestamped_hmac, timestamped_signature

SECRET = "bank_whsec_0001"
NOW = datetime(2024, 5, 2, 18, 0, tzinfo=UTC)
T = int(NOW.timestamp())


def event(event_type: str = "payment.settled", **obj: object) -> bytes:
    payload = {"id": "pay_1", "amount": "1500.00", "status": "settled", **obj}
    body = {"id": "evt_1", "type": event_type, "created_at": T, "data": {"object": payload}}
    return json.dumps(body).encode()


def signed(body: bytes, secret: str = SECRET, timestamp: int = T) -> dict[str, str]:
    return {"X-Signature": timestamped_signature(body, secret, timestamp)}


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"id":"evt_1"}'
    expected = hmac.new(SECRET.encode(), b"1714672800." + body, hashlib.sha256).hexdigest()
    assert compute_timestamped_hmac(body, SECRET, 1714672800) == expected
    assert timestamped_signature(body, SECRET, 1714672800) == f"t=1714672800,v1={expected}"


@pytest.mark.parametrize(
    ("event_type", "kind"),
    [
        ("payment.settled", EventKind.TRANSFER_SUCCEEDED),
        ("payment.returned", EventKind.TRANSFER_FAILED),
        ("payment.rejected", EventKind.TRANSFER_FAILED),
        ("deposit.received", EventKind.TRANSFER_RECEIVED),
        ("payment.created", EventKind.IGNORED),
        ("account.renamed", EventKind.UNKNOWN),
    ],
)
def test_event_types_are_normalised(event_type: str, kind: EventKind) -> None:
    body = event(event_type)
    normalised = verify_bank_signature(body, signed(body), SECRET, now=NOW)
    assert normalised.kind is kind
    assert normalised.event_id == "evt_1" and normalised.provider == "bank"
    assert normalised.provider_payment_id == "pay_1"
    assert normalised.amount == Decimal("1500.00")


def test_rotation_any_secret_and_any_v1_may_match() -> None:
    body = event()
    header = signed(body, "old_secret")["X-Signature"] + ",v1=" + "0" * 64
    assert verify_bank_signature(body, {"x-signature": header}, ["new", "old_secret"], now=NOW)


def test_forged_tampered_stale_and_malformed_deliveries_are_refused() -> None:
    body = event()
    with pytest.raises(InvalidSignature):
        verify_bank_signature(body, signed(body, "other"), SECRET, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_bank_signature(body.replace(b"1500.00", b"9500.00"), signed(body), SECRET, now=NOW)
    with pytest.raises(StaleSignature):
        verify_bank_signature(body, signed(body), SECRET, now=NOW + timedelta(seconds=301))
    assert verify_bank_signature(body, signed(body, timestamp=T + 60), SECRET, now=NOW)
    with pytest.raises(MalformedWebhook):
        verify_bank_signature(body, {}, SECRET, now=NOW)
    with pytest.raises(MalformedWebhook):
        verify_bank_signature(body, {"X-Signature": "v1=abc"}, SECRET, now=NOW)
    with pytest.raises(InvalidSignature):
        verify_bank_signature(body, {"X-Signature": f"t={T}"}, SECRET, now=NOW)
    junk = b"not json"
    with pytest.raises(MalformedWebhook):
        verify_bank_signature(junk, signed(junk), SECRET, now=NOW)
