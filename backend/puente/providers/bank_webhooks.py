"""Webhooks of Puente's generic bank API: HMAC-SHA256 signatures and event normalisation.

A bank implementing the contract signs each delivery with ``X-Signature: t=<unix>,v1=<hex>``
where ``v1`` is hex HMAC-SHA256, keyed with the endpoint's ``webhook_secret`` (UTF-8), of
``f"{t}.{raw_body}"``. Several ``v1`` may be present while the bank rotates secrets; any match
(compared in constant time) authenticates. ``t`` older than the tolerance (300 s) is stale.
The body is ``{"id": "evt_…", "type": "…", "created_at": <unix>, "data": {"object": {…}}}``:

    payment.settled    our SPEI payment reached the beneficiary     -> transfer.succeeded
    payment.returned   the receiving bank sent it back              -> transfer.failed
    payment.rejected   the bank refused it before sending           -> transfer.failed
    deposit.received   an incoming SPEI credited the account        -> transfer.received
    payment.created, payment.processing                             -> ignored
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from puente.money import InvalidAmount, parse_amount
from puente.providers.errors import InvalidSignature, MalformedWebhook, StaleSignature
from puente.providers.values import EventKind, NormalisedEvent

__all__ = [
    "SIGNATURE_HEADER",
    "bank_signature_header",
    "compute_bank_signature",
    "normalise_bank_event",
    "verify_bank_signature",
]

PROVIDER = "bank"
SIGNATURE_HEADER = "X-Signature"
DEFAULT_TOLERANCE = 300
_KINDS = {
    "payment.settled": EventKind.TRANSFER_SUCCEEDED,
    "payment.returned": EventKind.TRANSFER_FAILED,
    "payment.rejected": EventKind.TRANSFER_FAILED,
    "deposit.received": EventKind.TRANSFER_RECEIVED,
    "payment.created": EventKind.IGNORED,
    "payment.processing": EventKind.IGNORED,
}


def compute_bank_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{payload}"`` keyed with ``secret``."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def bank_signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Signature`` value a bank sends for ``payload`` at ``timestamp``."""
    return f"t={timestamp},v1={compute_bank_signature(payload, secret, timestamp)}"


def _parse_header(headers: Mapping[str, str]) -> tuple[int, list[str]]:
    value = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()), None)
    if not value:
        raise MalformedWebhook(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for item in value.split(","):
        key, _, text = item.strip().partition("=")
        if key == "t":
            if not text.isdigit():
                raise MalformedWebhook(f"{SIGNATURE_HEADER} has a non-numeric timestamp")
            timestamp = int(text)
        elif key == "v1":
            signatures.append(text)
    if timestamp is None:
        raise MalformedWebhook(f"{SIGNATURE_HEADER} has no timestamp")
    if not signatures:
        raise InvalidSignature(f"{SIGNATURE_HEADER} has no v1 signature")
    return timestamp, signatures


def verify_bank_signature(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> NormalisedEvent:
    """Authenticate a bank webhook and return it normalised, or raise a verification error."""
    timestamp, signatures = _parse_header(headers)
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    expected = [compute_bank_signature(raw_body, s, timestamp) for s in candidates if s]
    matched = False
    for signature in signatures:  # no early exit: timing must not tell which one matched
        for value in expected:
            matched |= hmac.compare_digest(value, signature)
    if not matched:
        raise InvalidSignature(f"no {SIGNATURE_HEADER} v1 matches the webhook secret")
    current = (now or datetime.now(UTC)).timestamp()
    if tolerance and timestamp < current - tolerance:
        raise StaleSignature(f"signature timestamp is older than {tolerance}s")
    try:
        event = json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedWebhook("webhook body is not JSON") from None
    return normalise_bank_event(event)


def normalise_bank_event(event: Any) -> NormalisedEvent:
    """A bank event as a ``NormalisedEvent``; types we do not know become ``unknown``."""
    if not isinstance(event, Mapping):
        raise MalformedWebhook("webhook body is not a JSON object")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created_at")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise MalformedWebhook("webhook has no event id or type")
    if not isinstance(created, int) or isinstance(created, bool):
        raise MalformedWebhook("webhook has no numeric created_at")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    obj = obj if isinstance(obj, Mapping) else {}
    amount = None
    if obj.get("amount") is not None:
        try:
            amount = parse_amount(str(obj["amount"]))
        except InvalidAmount:
            raise MalformedWebhook("webhook object has an invalid amount") from None
    object_id = obj.get("id")
    return NormalisedEvent(
        provider=PROVIDER,
        event_id=event_id,
        type=event_type,
        kind=_KINDS.get(event_type, EventKind.UNKNOWN),
        occurred_at=datetime.fromtimestamp(created, UTC),
        provider_payment_id=object_id if isinstance(object_id, str) else None,
        amount=amount,
        raw=event,
    )
