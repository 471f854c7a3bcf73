"""Stripe webhook signatures (sign and verify) and event normalisation; pure functions.

Stripe signs each delivery with ``Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`` where
``v1`` is hex HMAC-SHA256 keyed with the endpoint secret (``whsec_...`` as UTF-8) over
``f"{t}.{raw_body}"``. A delivery is authentic if any ``v1`` matches (compared in constant
time), and fresh if ``t`` is no older than the tolerance (300 s, as stripe-python's
``Webhook.DEFAULT_TOLERANCE``); future timestamps are accepted, as the SDK does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from puente.money import from_centavos
from puente.providers.signatures import (
    DEFAULT_TOLERANCE,
    EventEnvelope,
    TimestampedHmac,
    compute_timestamped_hmac,
    timestamped_signature,
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


# Stripe's scheme is the shared timestamped HMAC (signatures.py): v1 over "{t}.{body}", and
# the ``Stripe-Signature`` value Stripe would send for a body at a time.
compute_stripe_signature = compute_timestamped_hmac
stripe_signature_header = timestamped_signature


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
    envelope = EventEnvelope.read("stripe", event, created="created")
    obj = envelope.object
    kind, payment_id, amount = _kind_and_payment(envelope.type, obj)
    # Only a PaymentIntent carries the metadata Puente set when it created it.
    intent = envelope.type.startswith("payment_intent.")
    ours = puente_payment_in(obj.get("metadata")) if intent else None
    return envelope.normalised(kind, payment_id, amount, ours)


# Authenticate a Stripe delivery (several endpoint secrets while one is rotated).
verify_stripe_signature = TimestampedHmac(SIGNATURE_HEADER, normalise_stripe_event)
