"""Normalised provider errors: one model for every bank and gateway.

Our exception hierarchy (``code`` in brackets):

* ProviderException
  x ProviderError                      a call to a provider did not do what was asked
    + PaymentDeclined                  [card_declined] the issuer or bank refused the money
      - InsufficientFunds              [insufficient_funds]
      - ExpiredCard                    [expired_card]
    + InvalidRequest                   [invalid_request] our request was wrong; do not retry
      - NotFound                       [invalid_request] the provider does not know that id
      - NotSupported                   [invalid_request] this provider cannot do that operation
    + AuthenticationError              [authentication] bad or revoked credentials
    + RateLimited                      [rate_limited] slow down; see ``retry_after``
    + ProviderUnavailable              [provider_unavailable] outage, 5xx, network trouble
      - ProviderTimeout                [provider_unavailable] no answer in time
      - CircuitOpen                    [provider_unavailable] we stopped calling for a while
      - MalformedResponse              [provider_unavailable] an answer we cannot read
  x ProviderConfigError                a connector was built without what it needs
  x WebhookVerificationError           a webhook we must not trust (``reason`` in brackets)
    + InvalidSignature                 [invalid]
    + StaleSignature                   [stale]
    + MalformedWebhook                 [malformed]

Every ``ProviderError`` keeps the provider's own ``provider_code`` and ``provider_message`` so
support staff can look them up, and says whether retrying the same request may help.
Messages never hold credentials: the HTTP layer redacts them before an error leaves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from enum import StrEnum
from typing import Any, Self, TypeVar

__all__ = [
    "AuthenticationError",
    "CircuitOpen",
    "ErrorCode",
    "ExpiredCard",
    "InsufficientFunds",
    "InvalidRequest",
    "InvalidSignature",
    "MalformedResponse",
    "MalformedWebhook",
    "NotFound",
    "NotSupported",
    "PaymentDeclined",
    "ProviderConfigError",
    "ProviderError",
    "ProviderException",
    "ProviderTimeout",
    "ProviderUnavailable",
    "RateLimited",
    "StaleSignature",
    "WebhookVerificationError",
    "carried_payment",
    "declined_on_creation",
    "error_class_for_status",
    "error_for_status",
    "known_status",
    "reading_response",
    "unknown_status",
]


_S = TypeVar("_S")


class ErrorCode(StrEnum):
    """The normalised error codes the rest of Puente branches on."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INVALID_REQUEST = "invalid_request"
    AUTHENTICATION = "authentication"
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"


class ProviderException(Exception):
    """Root of everything the providers package raises on purpose."""


class ProviderError(ProviderException):
    """A provider call failed; ``code`` is normalised, ``provider_code`` is theirs."""

    code: ErrorCode = ErrorCode.PROVIDER_UNAVAILABLE
    default_retryable = False

    def __init__(
        self,
        provider_message: str = "",
        *,
        provider: str = "",
        provider_code: str | None = None,
        http_status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        raw: Mapping[str, Any] | None = None,
        payment: Any = None,
    ) -> None:
        super().__init__(provider_message)
        self.provider = provider
        self.provider_message = provider_message
        self.provider_code = provider_code
        self.http_status = http_status
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after = retry_after
        # The provider's error body, for support; never rendered into str() or repr().
        self.raw: Mapping[str, Any] = raw or {}
        # A ProviderPayment when the provider created an object despite the failure (a declined
        # PaymentIntent still exists and has an id the payments service must record).
        self.payment = payment

    @classmethod
    def answered(
        cls,
        status: int,
        body: Mapping[str, Any],
        *,
        provider: str,
        message: Any,
        code: Any = None,
        payment: Any = None,
    ) -> Self:
        """This error for a provider's non-2xx answer: its message (else ``HTTP <status>``),
        its own code, its body, and the payment it carries if any (``carried_payment``)."""
        return cls(
            str(message or f"HTTP {status}"),
            provider=provider,
            provider_code=str(code) if code not in (None, "") else None,
            http_status=status,
            raw=dict(body),
            payment=payment,
        )

    def __str__(self) -> str:
        parts = [f"[{self.provider or '?'}] {self.code.value}: {self.provider_message}"]
        if self.provider_code:
            parts.append(f"provider code {self.provider_code}")
        if self.http_status is not None:
            parts.append(f"HTTP {self.http_status}")
        return " | ".join(parts)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, code={self.code.value!r}, "
            f"provider_code={self.provider_code!r}, http_status={self.http_status!r}, "
            f"retryable={self.retryable!r})"
        )


class PaymentDeclined(ProviderError):
    """The issuer, bank or network refused the payment."""

    code = ErrorCode.CARD_DECLINED


class InsufficientFunds(PaymentDeclined):
    """Not enough money on the card or account."""

    code = ErrorCode.INSUFFICIENT_FUNDS


class ExpiredCard(PaymentDeclined):
    """The card is past its expiry date."""

    code = ErrorCode.EXPIRED_CARD


class InvalidRequest(ProviderError):
    """The provider rejected our request as wrong; fix it rather than retry."""

    code = ErrorCode.INVALID_REQUEST


class NotFound(InvalidRequest):
    """The provider has no object with that id (on this account)."""


class NotSupported(InvalidRequest):
    """The provider has no such operation (e.g. PayPal has no OXXO)."""


class AuthenticationError(ProviderError):
    """Credentials were refused; an operator must fix the configuration."""

    code = ErrorCode.AUTHENTICATION


class RateLimited(ProviderError):
    """Too many requests; wait ``retry_after`` seconds when given."""

    code = ErrorCode.RATE_LIMITED
    default_retryable = True


class ProviderUnavailable(ProviderError):
    """The provider is down, slow or answering 5xx."""

    code = ErrorCode.PROVIDER_UNAVAILABLE
    default_retryable = True


class ProviderTimeout(ProviderUnavailable):
    """No complete answer within the configured timeout."""


class CircuitOpen(ProviderUnavailable):
    """Calls are short-circuited after repeated failures; try after ``retry_after``."""


class MalformedResponse(ProviderUnavailable):
    """An answer we cannot interpret (bad JSON, missing field, unknown status)."""

    # Not retried automatically: the provider may already have acted on the request.
    default_retryable = False


class ProviderConfigError(ProviderException, ValueError):
    """A connector was configured without a credential or with a bad setting."""


class WebhookVerificationError(ProviderException):
    """A webhook whose authenticity or freshness cannot be established."""

    reason = "invalid"


class InvalidSignature(WebhookVerificationError):
    """The signature does not match any configured secret."""

    reason = "invalid"


class StaleSignature(WebhookVerificationError):
    """The signature is valid but older than the tolerance (a possible replay)."""

    reason = "stale"


class MalformedWebhook(WebhookVerificationError):
    """Missing signature header or a body that is not the expected JSON."""

    reason = "malformed"


_BY_STATUS: dict[int, type[ProviderError]] = {
    400: InvalidRequest,
    401: AuthenticationError,
    402: PaymentDeclined,
    403: AuthenticationError,
    404: NotFound,
    409: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
}


def error_class_for_status(
    status: int, *, payment_required: type[ProviderError] = PaymentDeclined
) -> type[ProviderError]:
    """The normalised error class an HTTP status implies on its own.

    ``payment_required`` is what 402 means: most gateways say "declined" with it, but some
    answer 402 for refusals that are not the issuer's (they pass ``InvalidRequest``).
    """
    if status >= 500:
        return ProviderUnavailable
    if status == 402:
        return payment_required
    return _BY_STATUS.get(status, InvalidRequest)


def error_for_status(
    status: int, *, provider: str, message: str, provider_code: str | None = None, **kwargs: Any
) -> ProviderError:
    """The fallback mapping from an HTTP status to a normalised error."""
    cls = error_class_for_status(status)
    return cls(
        message, provider=provider, provider_code=provider_code, http_status=status, **kwargs
    )


def declined_on_creation(cls: type[PaymentDeclined], message: str, payment: Any) -> PaymentDeclined:
    """The decline of a payment the provider created and refused (HTTP 201, a failed status).

    ``payment`` is the ``ProviderPayment`` it answered; the error carries it so the payments
    service records the attempt. Not retryable: the same request would be refused again.
    """
    return cls(
        message,
        provider=payment.provider,
        provider_code=payment.provider_failure_code,
        http_status=201,
        retryable=False,
        raw=payment.raw,
        payment=payment,
    )


def carried_payment(read: Callable[[Mapping[str, Any]], _S], body: Any) -> _S | None:
    """The payment an error answer carries, read with ``read``; None when there is none or it
    cannot be read. A refused card payment still exists at the provider, and the payments
    service records its id from the error (``ProviderError.payment``)."""
    if not isinstance(body, Mapping):
        return None
    try:
        return read(body)
    except ProviderError:
        return None


def unknown_status(what: str, raw: Any, *, provider: str) -> MalformedResponse:
    """The error for a status we have never seen (``what``: "refund status", "STP estado")."""
    return MalformedResponse(f"unknown {what} {raw!r}", provider=provider, provider_code=str(raw))


def known_status(table: Mapping[Any, _S], raw: Any, *, what: str, provider: str) -> _S:
    """``table[raw]``; a status missing from the provider's table is ``MalformedResponse``."""
    found = table.get(raw)
    if found is None:
        raise unknown_status(what, raw, provider=provider)
    return found


@contextmanager
def reading_response(provider: str, what: str) -> Iterator[None]:
    """Turn a KeyError/TypeError/ValueError while reading an answer into MalformedResponse."""
    try:
        yield
    except ProviderError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError) as exc:
        raise MalformedResponse(
            f"could not read {what}: {type(exc).__name__}: {exc}", provider=provider
        ) from exc
