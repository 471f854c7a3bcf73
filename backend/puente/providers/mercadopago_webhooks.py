"""Mercado Pago webhook signatures (sign and verify) and notification normalisation.

Mercado Pago sends ``x-signature: ts=<ts>,v1=<hex>`` and ``x-request-id``. ``v1`` is hex
HMAC-SHA256, keyed with the application's webhook secret, over the manifest
``id:{data.id};request-id:{x-request-id};ts:{ts};`` where a pair whose value is missing is left
out and ``data.id`` (from the query string, equal to the body's ``data.id``) is lowercased when
alphanumeric. The body itself is *not* signed: only ``data.id`` is authenticated, so a
notification is a hint ("payment 123 changed") and its meaning comes from a follow-up
``GET /v1/payments/123`` (``MercadoPagoConnector.resolve_event``). ``ts`` is used verbatim in
the manifest; for freshness it is read as seconds, or milliseconds when it is that large.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from puente.providers.errors import InvalidSignature, MalformedWebhook
from puente.providers.mercadopago_mapping import mp_datetime
from puente.providers.signatures import (
    DEFAULT_TOLERANCE,
    candidate_secrets,
    check_age,
    header_value,
    signature_fields,
    signature_matches,
    webhook_json,
)
from puente.providers.values import (
    EventKind,
    NormalisedEvent,
    PaymentMethod,
    PaymentStatus,
    ProviderPayment,
    puente_payment_in,
)

__all__ = [
    "DEFAULT_TOLERANCE",
    "RESOLVABLE_TOPICS",
    "compute_mercadopago_signature",
    "mercadopago_manifest",
    "mercadopago_signature_headers",
    "normalise_mercadopago_notification",
    "resolved_payment_event",
    "verify_mercadopago_signature",
]

# Topics whose notification only names an object; the connector fetches it to learn the kind.
RESOLVABLE_TOPICS = frozenset({"payment", "chargebacks"})
_KNOWN_IGNORED = frozenset({"merchant_order", "topic_merchant_order_wh", "point_integration_wh"})
_STATE_KINDS = {
    PaymentStatus.PENDING: EventKind.PAYMENT_PENDING,
    PaymentStatus.REQUIRES_ACTION: EventKind.PAYMENT_REQUIRES_ACTION,
    PaymentStatus.SUCCEEDED: EventKind.PAYMENT_SUCCEEDED,
    PaymentStatus.FAILED: EventKind.PAYMENT_FAILED,
    PaymentStatus.EXPIRED: EventKind.PAYMENT_EXPIRED,
    PaymentStatus.CANCELED: EventKind.PAYMENT_CANCELED,
    PaymentStatus.REFUNDED: EventKind.PAYMENT_REFUNDED,
    PaymentStatus.PARTIALLY_REFUNDED: EventKind.PAYMENT_REFUNDED,
    PaymentStatus.CHARGED_BACK: EventKind.CHARGEBACK,
}


def _signed_id(data_id: str | None) -> str | None:
    if not data_id:
        return None
    return data_id if data_id.isdigit() else data_id.lower()


def mercadopago_manifest(data_id: str | None, request_id: str | None, ts: str | None) -> str:
    """``id:…;request-id:…;ts:…;`` with the pairs whose value is missing left out."""
    pairs = (("id", _signed_id(data_id)), ("request-id", request_id), ("ts", ts))
    return "".join(f"{name}:{value};" for name, value in pairs if value)


def compute_mercadopago_signature(manifest: str, secret: str) -> str:
    """Hex HMAC-SHA256 of the manifest keyed with the webhook secret."""
    return hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()


def mercadopago_signature_headers(
    data_id: str | None, secret: str, ts: int, request_id: str
) -> dict[str, str]:
    """The ``x-signature`` and ``x-request-id`` headers Mercado Pago would send."""
    signature = compute_mercadopago_signature(
        mercadopago_manifest(data_id, request_id, str(ts)), secret
    )
    return {"x-signature": f"ts={ts},v1={signature}", "x-request-id": request_id}


def _parse_signature(value: str) -> tuple[str, list[str]]:
    fields = [(key.strip(), text.strip()) for key, text in signature_fields(value)]
    stamps = [text for key, text in fields if key == "ts"]  # the last one counts
    if not stamps or not stamps[-1].isdigit():
        raise MalformedWebhook("x-signature has no numeric ts")
    return stamps[-1], [text for key, text in fields if key == "v1"]


def _body(raw_body: bytes) -> Mapping[str, Any]:
    body = webhook_json(raw_body)
    if not isinstance(body, Mapping):
        raise MalformedWebhook("webhook body is not a JSON object")
    return body


def _body_data_id(body: Mapping[str, Any]) -> str | None:
    data = body.get("data")
    value = data.get("id") if isinstance(data, Mapping) else None
    return str(value) if value not in (None, "") else None


def verify_mercadopago_signature(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    query: Mapping[str, str] | None = None,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> NormalisedEvent:
    """Authenticate a notification and normalise it, or raise a verification error.

    ``query`` is the notification URL's query string (``data.id``, ``type``) when the caller
    has it; without it the body's ``data.id`` (the same value) is what gets checked.
    """
    header = header_value(headers, "x-signature")
    if not header:
        raise MalformedWebhook("missing x-signature header")
    ts, signatures = _parse_signature(header)
    if not signatures:
        raise InvalidSignature("x-signature has no v1 signature")
    body = _body(raw_body)
    body_id = _body_data_id(body)
    data_id = (query or {}).get("data.id") or body_id
    if body_id and data_id and _signed_id(body_id) != _signed_id(data_id):
        raise InvalidSignature("the body names another object than the signed data.id")
    manifest = mercadopago_manifest(data_id, header_value(headers, "x-request-id"), ts)
    expected = [compute_mercadopago_signature(manifest, s) for s in candidate_secrets(secrets)]
    if not signature_matches(signatures, expected):
        raise InvalidSignature("no x-signature v1 matches the webhook secret")
    seconds = int(ts) / 1000 if len(ts) > 11 else int(ts)
    check_age(seconds, now=now, tolerance=tolerance)
    return normalise_mercadopago_notification(body, fallback_time=seconds)


def normalise_mercadopago_notification(
    body: Mapping[str, Any], *, fallback_time: float | None = None
) -> NormalisedEvent:
    """A notification as a ``NormalisedEvent`` whose kind is still to be resolved.

    Payment and chargeback notifications carry only an id, so their kind is ``unknown`` until
    ``resolved_payment_event`` (after a GET) says what happened; other known topics are
    ``ignored``; anything else stays ``unknown``.
    """
    event_id, topic = body.get("id"), body.get("type") or body.get("topic")
    if event_id in (None, "") or not isinstance(topic, str):
        raise MalformedWebhook("notification has no id or type")
    try:
        occurred = mp_datetime(body.get("date_created"))
    except ValueError:
        raise MalformedWebhook("notification has an unreadable date_created") from None
    if occurred is None:
        occurred = datetime.fromtimestamp(fallback_time or 0, UTC)
    data_id = _body_data_id(body)
    kind = EventKind.IGNORED if topic in _KNOWN_IGNORED else EventKind.UNKNOWN
    action = body.get("action")
    return NormalisedEvent(
        provider="mercadopago",
        event_id=str(event_id),
        type=action if isinstance(action, str) and action else topic,
        kind=kind,
        occurred_at=occurred,
        provider_payment_id=data_id if topic == "payment" else None,
        raw=body,
    )


def resolved_payment_event(event: NormalisedEvent, payment: ProviderPayment) -> NormalisedEvent:
    """The event once the payment it names has been fetched.

    ``payment.created`` announces how the payment started: a SPEI/OXXO reference waiting for
    the payer, a card approved or rejected on the spot. ``payment.updated`` announces the
    payment's state now; a late resolution may skip intermediate states, which is fine because
    the payments service applies states, not deltas.
    """
    if event.type == "payment.created":
        raw = payment.raw
        if payment.status is PaymentStatus.FAILED:
            kind = EventKind.PAYMENT_FAILED
        elif payment.method in (PaymentMethod.SPEI, PaymentMethod.CASH):
            kind = EventKind.PAYMENT_REQUIRES_ACTION
        elif raw.get("date_approved"):
            kind = EventKind.PAYMENT_SUCCEEDED
        else:
            kind = EventKind.PAYMENT_PENDING
    else:
        kind = _STATE_KINDS[payment.status]
    amount = payment.amount_refunded if kind is EventKind.PAYMENT_REFUNDED else payment.amount
    return replace(
        event,
        kind=kind,
        provider_payment_id=payment.provider_id,
        amount=amount,
        puente_payment_id=puente_payment_in(payment.metadata)
        or puente_payment_in({"external_reference": payment.raw.get("external_reference")}),
    )
