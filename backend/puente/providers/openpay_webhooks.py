"""Openpay webhook authentication and event normalisation; pure functions.

Openpay signs nothing. A webhook is registered with a ``user`` and ``password``
(``POST /v1/{merchant}/webhooks``) and every delivery carries them as HTTP Basic credentials,
so authenticity means "the ``Authorization`` header holds our credentials" (compared in
constant time). That vouches for the sender but not for the body or its age: there is no
signed timestamp, and Openpay re-sends the same body until it gets a 2xx, so no replay window
is applied. ``webhook_password`` may hold several comma-separated passwords during a rotation.

Bodies are ``{"type", "event_date", "transaction": {...}}`` with no event id; the id Puente
dedupes on is built from the type, the transaction (and refund) id and ``event_date``. On
registration Openpay posts ``{"type": "verification", "verification_code": ...}``: it is
acknowledged (``ignored``) and its code is what ``POST /webhooks/{id}/verify/{code}`` takes.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from puente.money import InvalidAmount, parse_amount
from puente.providers.errors import InvalidSignature, MalformedWebhook
from puente.providers.openpay_tables import OPENPAY_TABLES
from puente.providers.signatures import header_value, webhook_json
from puente.providers.timestamps import MEXICO_CITY, iso_mexico_city
from puente.providers.values import EventKind, NormalisedEvent, puente_payment_in

__all__ = [
    "MEXICO_CITY",
    "basic_authorization",
    "normalise_openpay_event",
    "openpay_datetime",
    "verify_openpay_webhook",
]

_WAITING_METHODS = ("store", "bank_account")


def basic_authorization(user: str, password: str) -> str:
    """The ``Authorization`` value Openpay sends for a webhook registered with these."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# An Openpay ISO-8601 timestamp as UTC; one without offset is Mexico City local time.
openpay_datetime = iso_mexico_city


def verify_openpay_webhook(
    raw_body: bytes, headers: Mapping[str, str], user: str, passwords: str | Sequence[str]
) -> NormalisedEvent:
    """Authenticate an Openpay delivery by its Basic credentials and return it normalised."""
    header = header_value(headers, "Authorization")
    if not header:
        raise MalformedWebhook("missing Authorization header (Openpay sends HTTP Basic)")
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise MalformedWebhook("Authorization is not HTTP Basic")
    try:
        given_user, sep, given_password = (
            base64.b64decode(value.strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, ValueError):
        raise InvalidSignature("Authorization does not hold valid Basic credentials") from None
    candidates = [passwords] if isinstance(passwords, str) else list(passwords)
    # Compare everything without stopping early, so timing says nothing about which part failed.
    matched = hmac.compare_digest(given_user.encode(), user.encode()) and bool(sep)
    password_ok = False
    for candidate in candidates:
        password_ok |= hmac.compare_digest(given_password.encode(), candidate.encode())
    if not (matched and password_ok):
        raise InvalidSignature("webhook credentials do not match webhook_user/webhook_password")
    return normalise_openpay_event(webhook_json(raw_body, decimals=True))


def _amount(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return parse_amount(value)
    except InvalidAmount:
        return None


def _kind(event_type: str, transaction: Mapping[str, Any]) -> EventKind:
    if event_type == "charge.created":
        # A store/SPEI reference now waits for the payer; a card charge is in progress.
        waiting = transaction.get("method") in _WAITING_METHODS
        return EventKind.PAYMENT_REQUIRES_ACTION if waiting else EventKind.PAYMENT_PENDING
    if event_type == "charge.cancelled":
        # Openpay cancels store/SPEI references nobody paid by their due_date.
        waiting = transaction.get("method") in _WAITING_METHODS
        return EventKind.PAYMENT_EXPIRED if waiting else EventKind.PAYMENT_CANCELED
    return OPENPAY_TABLES.event_kind(event_type)


def normalise_openpay_event(event: Any) -> NormalisedEvent:
    """An Openpay webhook body as a ``NormalisedEvent``; unknown types become ``unknown``."""
    if not isinstance(event, Mapping):
        raise MalformedWebhook("webhook body is not a JSON object")
    event_type = event.get("type")
    occurred = openpay_datetime(event.get("event_date"))
    if not isinstance(event_type, str) or not event_type:
        raise MalformedWebhook("webhook has no type")
    if occurred is None:
        raise MalformedWebhook("webhook has no ISO-8601 'event_date'")
    found = event.get("transaction")
    transaction: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    tx_id = transaction.get("id") if isinstance(transaction.get("id"), str) else None
    if event_type == "verification":
        event_id = f"verification:{event.get('verification_code') or event['event_date']}"
    else:
        # Openpay bodies have no event id; a refund event also names the refund it is about.
        refund = transaction.get("refund")
        refund_id = refund.get("id") if isinstance(refund, Mapping) else None
        parts = [event_type, tx_id or "-", str(event["event_date"])]
        event_id = ":".join([*parts, refund_id] if refund_id else parts)
    kind = _kind(event_type, transaction)
    amount = _amount(transaction.get("amount"))
    if kind is EventKind.PAYMENT_REFUNDED and isinstance(transaction.get("refund"), Mapping):
        amount = _amount(transaction["refund"].get("amount")) or amount
    return NormalisedEvent(
        provider="openpay",
        event_id=event_id,
        type=event_type,
        kind=kind,
        occurred_at=occurred,
        provider_payment_id=None if event_type.startswith("payout.") else tx_id,
        amount=amount,
        puente_payment_id=puente_payment_in(transaction.get("metadata")),
        raw=event,
    )
