"""PayPal webhook signatures (offline scheme: sign and verify) and event normalisation.

PayPal signs each delivery with its certificate's RSA key (``PAYPAL-AUTH-ALGO``
``SHA256withRSA``: PKCS#1 v1.5 over SHA-256) and sends the base64 signature in
``PAYPAL-TRANSMISSION-SIG``. The signed message is
``"{transmission_id}|{transmission_time}|{webhook_id}|{crc32(raw_body)}"`` with the CRC32 as
an unsigned decimal and ``webhook_id`` the id of *our* webhook subscription. The certificate
is downloaded from ``PAYPAL-CERT-URL`` (see ``paypal_certs.py`` for the host allowlist); this
module takes it as an argument, so verification stays a pure function.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature as _BadRsaSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from puente.money import parse_amount
from puente.providers.errors import InvalidSignature, MalformedWebhook, StaleSignature
from puente.providers.paypal_tables import PAYPAL_TABLES
from puente.providers.signatures import DEFAULT_TOLERANCE, webhook_json
from puente.providers.values import EventKind, NormalisedEvent, puente_payment_in

__all__ = [
    "AUTH_ALGO",
    "DEFAULT_TOLERANCE",
    "Transmission",
    "check_transmission_age",
    "normalise_paypal_event",
    "paypal_transmission",
    "sign_paypal_transmission",
    "transmission_message",
    "verify_paypal_signature",
]

AUTH_ALGO = "SHA256withRSA"
_HEADERS = {
    "id": "PAYPAL-TRANSMISSION-ID",
    "time": "PAYPAL-TRANSMISSION-TIME",
    "sig": "PAYPAL-TRANSMISSION-SIG",
    "cert_url": "PAYPAL-CERT-URL",
    "algo": "PAYPAL-AUTH-ALGO",
}


@dataclass(frozen=True, slots=True)
class Transmission:
    """The five ``PAYPAL-*`` headers of one delivery attempt."""

    transmission_id: str
    transmission_time: str
    signature: str
    cert_url: str
    auth_algo: str


def transmission_message(
    transmission_id: str, transmission_time: str, webhook_id: str, raw_body: bytes
) -> bytes:
    """The signed string: ids and time verbatim, CRC32 of the raw body as unsigned decimal."""
    crc = zlib.crc32(raw_body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def sign_paypal_transmission(
    private_key: rsa.RSAPrivateKey,
    transmission_id: str,
    transmission_time: str,
    webhook_id: str,
    raw_body: bytes,
) -> str:
    """Base64 SHA256withRSA signature, as PayPal puts in ``PAYPAL-TRANSMISSION-SIG``."""
    message = transmission_message(transmission_id, transmission_time, webhook_id, raw_body)
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def paypal_transmission(headers: Mapping[str, str]) -> Transmission:
    """The ``PAYPAL-*`` headers, or ``MalformedWebhook`` when one is missing."""
    lowered = {k.lower(): v for k, v in headers.items()}
    values = {name: lowered.get(header.lower(), "") for name, header in _HEADERS.items()}
    missing = [_HEADERS[name] for name, value in values.items() if not value]
    if missing:
        raise MalformedWebhook(f"missing {', '.join(missing)}")
    return Transmission(
        values["id"], values["time"], values["sig"], values["cert_url"], values["algo"]
    )


def _parse_time(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        # The time is part of the signed message: one that is not a date was not signed by
        # PayPal (checked before the signature, so it is refused as a bad signature).
        raise InvalidSignature("PAYPAL-TRANSMISSION-TIME is not a date") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def check_transmission_age(
    transmission: Transmission, *, now: datetime | None, tolerance: int
) -> None:
    """``StaleSignature`` when the transmission is older than ``tolerance`` seconds."""
    sent = _parse_time(transmission.transmission_time)
    current = now or datetime.now(UTC)
    if tolerance and (current - sent).total_seconds() > tolerance:
        raise StaleSignature(f"transmission time is older than {tolerance}s")


def verify_paypal_signature(
    raw_body: bytes,
    headers: Mapping[str, str],
    webhook_id: str,
    certificate: x509.Certificate,
    *,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> NormalisedEvent:
    """Authenticate a delivery with PayPal's certificate and normalise it."""
    transmission = paypal_transmission(headers)
    if transmission.auth_algo != AUTH_ALGO:
        raise InvalidSignature(f"unsupported PAYPAL-AUTH-ALGO {transmission.auth_algo!r}")
    key = certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidSignature("the certificate does not hold an RSA key")
    try:
        signature = base64.b64decode(transmission.signature, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidSignature("PAYPAL-TRANSMISSION-SIG is not base64") from None
    message = transmission_message(
        transmission.transmission_id, transmission.transmission_time, webhook_id, raw_body
    )
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except _BadRsaSignature:
        raise InvalidSignature("the signature does not match the body and webhook id") from None
    check_transmission_age(transmission, now=now, tolerance=tolerance)
    # The signed message includes the body's CRC32, so the body is PayPal's.
    return replace(normalise_paypal_event(webhook_json(raw_body)), body_authenticated=True)


def _related_order(resource: Mapping[str, Any]) -> str | None:
    related = (resource.get("supplementary_data") or {}).get("related_ids") or {}
    order = related.get("order_id")
    return str(order) if order else None


def _up_link(resource: Mapping[str, Any], collection: str) -> str | None:
    for link in resource.get("links") or []:
        href = str(link.get("href") or "")
        if link.get("rel") == "up" and f"/{collection}/" in href:
            return href.rstrip("/").rsplit("/", 1)[-1]
    return None


def _amount(resource: Mapping[str, Any]) -> Any:
    value = (resource.get("amount") or {}).get("value")
    return parse_amount(value) if isinstance(value, str) else None


def _payment_id(event_type: str, resource: Mapping[str, Any]) -> str | None:
    if event_type.startswith("CHECKOUT."):
        return str(resource.get("id")) if resource.get("id") else None
    if event_type == "PAYMENT.CAPTURE.REFUNDED":
        # A refund names its capture ("up" link); resolve_event turns that into the order.
        return _related_order(resource) or _up_link(resource, "captures")
    if event_type.startswith("PAYMENT.CAPTURE."):
        return _related_order(resource) or _up_link(resource, "orders") or resource.get("id")
    if event_type.startswith("CUSTOMER.DISPUTE."):
        disputed = resource.get("disputed_transactions") or [{}]
        return disputed[0].get("seller_transaction_id")
    return None


def _custom_id(event_type: str, resource: Mapping[str, Any]) -> str | None:
    """The ``custom_id`` Puente set (``puente-payment-<id>``): on a capture, or on an order's
    purchase unit."""
    if event_type.startswith("PAYMENT.CAPTURE."):
        value = resource.get("custom_id")
    elif event_type.startswith("CHECKOUT.ORDER."):
        units = resource.get("purchase_units")
        first = units[0] if isinstance(units, list) and units else None
        value = first.get("custom_id") if isinstance(first, Mapping) else None
    else:
        value = None
    return puente_payment_in({"custom_id": value}) if isinstance(value, str) else None


def normalise_paypal_event(event: Any) -> NormalisedEvent:
    """A PayPal event as a ``NormalisedEvent``; unknown types become ``unknown``."""
    if not isinstance(event, Mapping):
        raise MalformedWebhook("webhook body is not a JSON object")
    event_id, event_type = event.get("id"), event.get("event_type")
    if not isinstance(event_id, str) or not isinstance(event_type, str):
        raise MalformedWebhook("webhook has no id or event_type")
    created = event.get("create_time")
    if not isinstance(created, str):
        raise MalformedWebhook("webhook has no create_time")
    found = event.get("resource")
    resource: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    kind = PAYPAL_TABLES.event_kind(event_type)
    try:
        amount = _amount(resource)
    except ValueError:
        amount = None
    if event_type.startswith("CUSTOMER.DISPUTE."):
        dispute = resource.get("dispute_amount") or {}
        amount = parse_amount(dispute["value"]) if dispute.get("value") else None
    payment_id = _payment_id(event_type, resource) if kind is not EventKind.UNKNOWN else None
    return NormalisedEvent(
        provider="paypal",
        event_id=event_id,
        type=event_type,
        kind=kind,
        occurred_at=_parse_time(created),
        provider_payment_id=str(payment_id) if payment_id else None,
        amount=amount,
        puente_payment_id=_custom_id(event_type, resource)
        if kind is not EventKind.UNKNOWN
        else None,
        raw=event,
    )
