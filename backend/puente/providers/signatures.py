"""Webhook authentication pieces every connector shares.

Each provider signs its deliveries its own way (HMAC, RSA, HTTP Basic, an IP allowlist), but
the steps around the signature are the same everywhere: find a header whatever its case,
compare every candidate in constant time, refuse a delivery older than the tolerance, read
the body as JSON. The timestamped HMAC scheme ``t=<unix>,v1=<hex>`` (Stripe's, which Puente's
generic bank contract copies on purpose) lives here whole, so both use one implementation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from puente.providers.errors import InvalidSignature, MalformedWebhook, StaleSignature
from puente.providers.values import EventKind, NormalisedEvent

__all__ = [
    "DEFAULT_TOLERANCE",
    "EventEnvelope",
    "TimestampedHmac",
    "candidate_secrets",
    "check_age",
    "compute_timestamped_hmac",
    "header_value",
    "parse_timestamped_signature",
    "signature_fields",
    "signature_matches",
    "timestamped_signature",
    "verify_timestamped_hmac",
    "webhook_json",
]

DEFAULT_TOLERANCE = 300  # seconds, as stripe-python's Webhook.DEFAULT_TOLERANCE


def header_value(headers: Mapping[str, str], name: str) -> str | None:
    """The value of header ``name`` in any letter case, or ``None``."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def webhook_json(raw_body: bytes, *, what: str = "webhook body", decimals: bool = False) -> Any:
    """The delivery's body as JSON (``Decimal`` numbers with ``decimals``) or MalformedWebhook."""
    try:
        return json.loads(raw_body, parse_float=Decimal) if decimals else json.loads(raw_body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise MalformedWebhook(f"{what} is not JSON") from None


@dataclass(frozen=True, slots=True)
class EventEnvelope:
    """What an ``{id, type, <created>, data: {object}}`` event says whatever its provider
    (Stripe's and Conekta's events, and Puente's bank contract, which copies them)."""

    provider: str
    id: str
    type: str
    occurred_at: datetime
    object: Mapping[str, Any]  # data.object; empty when the event has none
    raw: Mapping[str, Any]

    @classmethod
    def read(cls, provider: str, event: Any, *, created: str) -> EventEnvelope:
        """The envelope of a verified body, or ``MalformedWebhook``; ``created`` names the
        field with the unix time (``created`` at Stripe, ``created_at`` elsewhere)."""
        if not isinstance(event, Mapping):
            raise MalformedWebhook("webhook body is not a JSON object")
        event_id, event_type, when = event.get("id"), event.get("type"), event.get(created)
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            raise MalformedWebhook("webhook has no event id or type")
        if not isinstance(when, int) or isinstance(when, bool):
            raise MalformedWebhook(f"webhook has no numeric '{created}'")
        data = event.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        occurred = datetime.fromtimestamp(when, UTC)
        body = obj if isinstance(obj, Mapping) else {}
        return cls(provider, event_id, event_type, occurred, body, event)

    def normalised(
        self,
        kind: EventKind,
        payment_id: Any,
        amount: Decimal | None,
        puente_payment_id: str | None = None,
    ) -> NormalisedEvent:
        """The event as Puente reads it (a payment id that is not text is dropped)."""
        return NormalisedEvent(
            provider=self.provider,
            event_id=self.id,
            type=self.type,
            kind=kind,
            occurred_at=self.occurred_at,
            provider_payment_id=payment_id if isinstance(payment_id, str) else None,
            amount=amount,
            puente_payment_id=puente_payment_id,
            raw=self.raw,
        )


def candidate_secrets(secrets: str | Sequence[str]) -> list[str]:
    """One secret or several (while one is being rotated), without empty ones."""
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    return [secret for secret in candidates if secret]


def signature_matches(given: Iterable[str], expected: Sequence[str]) -> bool:
    """Whether any given signature equals any expected one.

    Every pair is compared, in constant time, without stopping early: timing must not tell
    which signature or which secret matched.
    """
    matched = False
    for signature in given:
        for value in expected:
            matched |= hmac.compare_digest(value, signature)
    return matched


def check_age(
    timestamp: float,
    *,
    now: datetime | None,
    tolerance: int,
    what: str = "signature timestamp",
) -> None:
    """``StaleSignature`` when ``timestamp`` (unix seconds) is older than ``tolerance`` seconds.

    A zero tolerance turns the check off; future timestamps pass, as the providers' SDKs do.
    """
    current = (now or datetime.now(UTC)).timestamp()
    if tolerance and timestamp < current - tolerance:
        raise StaleSignature(f"{what} is older than {tolerance}s")


def compute_timestamped_hmac(payload: bytes, secret: str, timestamp: int) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{payload}"`` keyed with ``secret`` (UTF-8)."""
    message = str(timestamp).encode() + b"." + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def timestamped_signature(payload: bytes, secret: str, timestamp: int) -> str:
    """The ``t=<timestamp>,v1=<hex>`` header value for ``payload`` signed at ``timestamp``."""
    return f"t={timestamp},v1={compute_timestamped_hmac(payload, secret, timestamp)}"


def signature_fields(value: str) -> list[tuple[str, str]]:
    """``[(key, value), …]`` of a comma-separated ``key=value`` signature header; an entry
    without ``=`` is skipped, and the spaces around an entry are not part of it."""
    entries = (item.strip().partition("=") for item in value.split(","))
    return [(key, text) for key, sep, text in entries if sep]


def parse_timestamped_signature(value: str, header: str) -> tuple[int, list[str]]:
    """``(t, [v1, ...])`` from a ``t=…,v1=…`` header value; other schemes are ignored."""
    timestamp: int | None = None
    signatures: list[str] = []
    for key, text in signature_fields(value):
        if key == "t":
            # ASCII digits only: a sign, spaces or other scripts' digits are not a unix time.
            if not (text.isascii() and text.isdigit()):
                raise MalformedWebhook(f"{header} has a non-numeric timestamp")
            timestamp = int(text)
        elif key == "v1":
            signatures.append(text)
    if timestamp is None:
        raise MalformedWebhook(f"{header} has no timestamp")
    return timestamp, signatures


def verify_timestamped_hmac(
    raw_body: bytes,
    headers: Mapping[str, str],
    secrets: str | Sequence[str],
    *,
    header: str,
    now: datetime | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Any:
    """Authenticate a ``t=…,v1=…`` signed delivery and return its JSON body.

    Authentic if any ``v1`` matches any secret; fresh if ``t`` is within ``tolerance``.
    """
    value = header_value(headers, header)
    if not value:
        raise MalformedWebhook(f"missing {header} header")
    timestamp, signatures = parse_timestamped_signature(value, header)
    if not signatures:
        raise InvalidSignature(f"{header} has no v1 signature")
    expected = [
        compute_timestamped_hmac(raw_body, secret, timestamp)
        for secret in candidate_secrets(secrets)
    ]
    if not signature_matches(signatures, expected):
        raise InvalidSignature(f"no {header} v1 matches the webhook secret")
    check_age(timestamp, now=now, tolerance=tolerance)
    return webhook_json(raw_body)


@dataclass(frozen=True, slots=True)
class TimestampedHmac:
    """A provider's ``t=…,v1=…`` scheme as its verifier: ``verify(raw_body, headers, secrets,
    now=, tolerance=)`` authenticates a delivery and returns its event normalised."""

    header: str  # e.g. Stripe-Signature
    normalise: Callable[[Any], NormalisedEvent]

    def __call__(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        secrets: str | Sequence[str],
        *,
        now: datetime | None = None,
        tolerance: int = DEFAULT_TOLERANCE,
    ) -> NormalisedEvent:
        event = verify_timestamped_hmac(
            raw_body, headers, secrets, header=self.header, now=now, tolerance=tolerance
        )
        # The signature covers the whole body: its status and amount may be acted on as sent.
        return replace(self.normalise(event), body_authenticated=True)
