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

from typing import Any

from puente.money import InvalidAmount, parse_amount
from puente.providers.bank_tables import BANK_TABLES
from puente.providers.errors import MalformedWebhook
from puente.providers.signatures import EventEnvelope, TimestampedHmac
from puente.providers.values import NormalisedEvent

__all__ = [
    "SIGNATURE_HEADER",
    "normalise_bank_event",
    "verify_bank_signature",
]

PROVIDER = "bank"
# The contract copies Stripe's scheme on purpose (``signatures.TimestampedHmac``): v1 over
# "{t}.{body}"; ``signatures.timestamped_signature`` is the value a bank sends.
SIGNATURE_HEADER = "X-Signature"


def normalise_bank_event(event: Any) -> NormalisedEvent:
    """A bank event as a ``NormalisedEvent``; types we do not know become ``unknown``."""
    envelope = EventEnvelope.read(PROVIDER, event, created="created_at")
    obj = envelope.object
    amount = None
    if obj.get("amount") is not None:
        try:
            amount = parse_amount(obj["amount"])
        except InvalidAmount:
            raise MalformedWebhook("webhook object has an invalid amount") from None
    return envelope.normalised(BANK_TABLES.event_kind(envelope.type), obj.get("id"), amount)


# Authenticate a bank delivery (HMAC over the body).
verify_bank_signature = TimestampedHmac(SIGNATURE_HEADER, normalise_bank_event)
