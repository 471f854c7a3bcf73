"""Stripe webhook signatures (sign and verify) and event normalisation; pure functions.

Stripe signs each delivery with ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`` where
``v1`` is hex HMAC-SHA256 keyed with the endpoint secret (``whsec_...`` as UTF-8) over
``f"{t}.{raw_body}"``. A delivery is authentic if any ``v1`` matches (compared in constant
time), and fresh if ``t`` is no older than the tolerance (300 s, as stripe-python's
``Webhook.DEFAULT_TOLERANCE``); future timestamps are accepted, as the SDK does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from puente.money import from_centavos
from puente.providers.errors import MalformedWebhook
from puente.providers.signatures import (
    DEFAULT_TOLERANCE,
    compute_timestamped_hmac,
    timestamped_signature,
    verify_timestamped_hmac,
)
from puente.providers.stripe_tables import STRIPE_TABLES
from puente.providers.values import EventKind, NormalisedEvent, puente_payment_in

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "compute_stripe_signature",
    "normalise_stripe_event",
    "stripe_signature_header",
    "verify_stripe_signature",
]

SIGNATURE_HEADER = "Stripe-Signature"
# Stripe's code when an OXXO/SPEI reference lapses unpaid; the PI falls back to
# requires_payment_method and sends payment_intent.payment_failed.
EXPIRED_CODE = "payment_intent_payment_attempt_expired"


def compute_stripe_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{payload}"`` keyed with ``secret``."""
    return compute_timestamped_hmac(payload, secret, timestamp)


def stripe_signature_header(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``Stripe-Signature`` value Stripe would send for ``payload`` at ``timestamp``."""
    return timestamped_signature(payload, secret, timestamp)


def verify_stripe_signature(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> NormalisedEvent:
    """Authenticate a Stripe delivery and return it normalised, or raise a verification error.

    ``secrets`` may hold several endpoint secrets while one is being rotated.
    """
    event = verify_timestamped_hmac(
        raw_body, headers, secrets, header=SIGNATURE_HEADER, now=now, tolerance=tolerance
    )
    # The signature covers the whole body: its status and amount may be acted on as sent.
    return replace(normalise_stripe_event(event), body_authenticated=True)


def _object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return obj if isinstance(obj, Mapping) else {}


def _amount(value: Any) -> Any:
    return from_centavos(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _kind_and_payment(event_type: str, obj: Mapping[str, Any]) -> tuple[EventKind, Any, Any]:
    """(kind, provider payment id, amount) for one Stripe event type (``STRIPE_TABLES``)."""
    kind = STRIPE_TABLES.event_kind(event_type)
    if event_type == "payment_intent.succeeded":
        return kind, obj.get("id"), _amount(obj.get("amount_received"))
    if event_type == "payment_intent.payment_failed":
        error = obj.get("last_payment_error") or {}
        if isinstance(error, Mapping) and error.get("code") == EXPIRED_CODE:
            kind = EventKind.PAYMENT_EXPIRED
    if event_type.startswith("payment_intent."):
        return kind, obj.get("id"), _amount(obj.get("amount"))
    if event_type.startswith(("charge.", "refund.")):
        field = "amount_refunded" if event_type == "charge.refunded" else "amount"
        return kind, obj.get("payment_intent"), _amount(obj.get(field))
    if kind in (EventKind.PAYOUT_PAID, EventKind.PAYOUT_FAILED):
        return kind, None, _amount(obj.get("amount"))
    return kind, None, None


def normalise_stripe_event(event: Any) -> NormalisedEvent:
    """A Stripe ``event`` object as a ``NormalisedEvent``; unknown types become ``unknown``."""
    if not isinstance(event, Mapping):
        raise MalformedWebhook("webhook body is not a JSON object")
    event_id, event_type, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise MalformedWebhook("webhook has no event id or type")
    if not isinstance(created, int) or isinstance(created, bool):
        raise MalformedWebhook("webhook has no numeric 'created'")
    obj = _object(event)
    kind, payment_id, amount = _kind_and_payment(event_type, obj)
    # Only a PaymentIntent carries the metadata Puente set when it created it.
    ours = (
        puente_payment_in(obj.get("metadata")) if event_type.startswith("payment_intent.") else None
    )
    return NormalisedEvent(
        provider="stripe",
        event_id=event_id,
        type=event_type,
        kind=kind,
        occurred_at=datetime.fromtimestamp(created, UTC),
        provider_payment_id=payment_id if isinstance(payment_id, str) else None,
        amount=amount,
        puente_payment_id=ours,
        raw=event,
    )
