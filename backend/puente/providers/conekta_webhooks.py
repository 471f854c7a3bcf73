"""Conekta webhook signatures (sign and verify) and event normalisation; pure functions.

Conekta signs the raw body of every delivery (UTF-8 JSON) with the account's webhook private
key and sends ``Digest: <base64 RSA PKCS#1 v1.5 signature over SHA-256(body)>``. The public
half comes from ``POST /webhook_keys`` (``public_key``, PEM) and is Puente's ``webhook_key``
credential; several PEM blocks may be configured while a key is being rotated.

The header carries no timestamp, so freshness is judged on the signed body's ``created_at``.
Conekta re-sends the same event (same ``created_at``) when a delivery fails, so the tolerance
must cover its retry schedule; ``tolerance=0`` switches the check off.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature as _BadRSA
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from puente.money import from_centavos
from puente.providers.conekta_tables import CONEKTA_TABLES
from puente.providers.errors import InvalidSignature, MalformedWebhook, ProviderConfigError
from puente.providers.signatures import (
    DEFAULT_TOLERANCE,
    EventEnvelope,
    check_age,
    header_value,
    webhook_json,
)
from puente.providers.values import EventKind, NormalisedEvent, puente_payment_in

__all__ = [
    "DEFAULT_TOLERANCE",
    "SIGNATURE_HEADER",
    "load_conekta_webhook_keys",
    "normalise_conekta_event",
    "sign_conekta_payload",
    "verify_conekta_signature",
]

SIGNATURE_HEADER = "Digest"
_PEM_END = "-----END PUBLIC KEY-----"
_WAITING_METHODS = {"cash_payment", "bank_transfer_payment"}


def load_conekta_webhook_keys(pem_text: str) -> list[rsa.RSAPublicKey]:
    """Every RSA public key in ``pem_text`` (one or more PEM blocks; ``\\n`` escapes allowed)."""
    text = pem_text.replace("\\n", "\n").strip()
    blocks = [b.strip() + "\n" + _PEM_END for b in text.split(_PEM_END) if b.strip()]
    keys: list[rsa.RSAPublicKey] = []
    for block in blocks:
        try:
            key = serialization.load_pem_public_key(block.encode())
        except (ValueError, UnsupportedAlgorithm):
            raise ProviderConfigError(
                "conekta: webhook_key is not a PEM public key (use POST /webhook_keys' public_key)"
            ) from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ProviderConfigError("conekta: webhook_key must be an RSA public key")
        keys.append(key)
    if not keys:
        raise ProviderConfigError("conekta: webhook_key holds no PEM public key")
    return keys


def sign_conekta_payload(payload: bytes, private_key: rsa.RSAPrivateKey) -> str:
    """The ``Digest`` value Conekta sends: base64 RSA PKCS#1 v1.5 / SHA-256 over ``payload``."""
    signature = private_key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def _signature(value: str) -> bytes:
    text = value.strip()
    for prefix in ("sha-256=", "sha256="):  # tolerate an RFC 3230-style algorithm label
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature("Digest header is not a base64 signature") from None


def verify_conekta_signature(
    raw_body: bytes,
    headers: Mapping[str, str],
    public_keys: Sequence[rsa.RSAPublicKey],
    *,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> NormalisedEvent:
    """Authenticate a Conekta delivery and return it normalised, or raise a verification error."""
    header = header_value(headers, SIGNATURE_HEADER)
    if not header:
        raise MalformedWebhook("missing Digest header")
    signature = _signature(header)
    matched = False
    for key in public_keys:
        try:
            key.verify(signature, raw_body, padding.PKCS1v15(), hashes.SHA256())
        except _BadRSA:
            continue
        matched = True
    if not matched:
        raise InvalidSignature("Digest does not verify with the configured webhook key")
    normalised = normalise_conekta_event(webhook_json(raw_body))
    check_age(
        normalised.occurred_at.timestamp(), now=now, tolerance=tolerance, what="event created_at"
    )
    return replace(normalised, body_authenticated=True)  # the Digest signs the whole body


def _amount(value: Any) -> Any:
    return from_centavos(value) if isinstance(value, int) and not isinstance(value, bool) else None


def _waits_for_payer(order: Mapping[str, Any]) -> bool:
    charges = order.get("charges")
    data = charges.get("data") if isinstance(charges, Mapping) else None
    for charge in data if isinstance(data, list) else []:
        method = charge.get("payment_method") if isinstance(charge, Mapping) else None
        if isinstance(method, Mapping) and method.get("object") in _WAITING_METHODS:
            return True
    return False


def _kind_and_payment(event_type: str, obj: Mapping[str, Any]) -> tuple[EventKind, Any, Any]:
    """(kind, provider payment id, amount) for one Conekta event type."""
    if event_type.startswith("order."):
        action = event_type.removeprefix("order.")
        if action == "pending_payment":
            # A cash/SPEI order waits for the payer; a card order is merely processing.
            kind = (
                EventKind.PAYMENT_REQUIRES_ACTION
                if _waits_for_payer(obj)
                else EventKind.PAYMENT_PENDING
            )
        else:
            kind = CONEKTA_TABLES.event_kind(event_type)
        amount = obj.get("amount_refunded") if kind is EventKind.PAYMENT_REFUNDED else None
        return kind, obj.get("id"), _amount(amount if amount is not None else obj.get("amount"))
    kind = CONEKTA_TABLES.event_kind(event_type)
    if kind is EventKind.IGNORED:
        return kind, obj.get("order_id"), _amount(obj.get("amount"))
    return kind, None, None


def normalise_conekta_event(event: Any) -> NormalisedEvent:
    """A Conekta ``event`` object as a ``NormalisedEvent``; unknown types become ``unknown``."""
    envelope = EventEnvelope.read("conekta", event, created="created_at")
    order = envelope.object
    kind, payment_id, amount = _kind_and_payment(envelope.type, order)
    # Order events carry the order's metadata, where Puente put its payment id.
    ours = puente_payment_in(order.get("metadata")) if envelope.type.startswith("order.") else None
    return envelope.normalised(kind, payment_id, amount, ours)
