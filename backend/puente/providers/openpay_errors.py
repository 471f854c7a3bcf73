"""Openpay error bodies and numeric ``error_code`` values as Puente's normalised errors.

Openpay answers errors with ``{category, description, http_code, error_code, request_id}``;
the ``error_code`` says more than the HTTP status (402 covers every issuer refusal), so it is
mapped first and the status is the fallback. Answers are parsed with ``parse_float=Decimal``.
"""

from __future__ import annotations

from typing import Any

import httpx

from puente.providers.answers import error_body
from puente.providers.errors import (
    AuthenticationError,
    ExpiredCard,
    InsufficientFunds,
    InvalidRequest,
    NotFound,
    PaymentDeclined,
    ProviderError,
    ProviderUnavailable,
    error_class_for_status,
    error_for_status,
)

__all__ = ["OPENPAY_ERRORS", "openpay_error", "openpay_error_class"]

PROVIDER = "openpay"
OPENPAY_ERRORS: dict[int, type[ProviderError]] = {
    1000: ProviderUnavailable,  # internal server error
    1001: InvalidRequest,  # malformed request
    1002: AuthenticationError,  # bad api key or merchant id
    1003: InvalidRequest,  # invalid parameter
    1004: ProviderUnavailable,  # a required service is down
    1005: NotFound,  # no such resource
    1006: InvalidRequest,  # order_id already used (our idempotency signal)
    1007: InvalidRequest,  # funds transfer between accounts refused
    1008: InvalidRequest,  # account deactivated
    1009: InvalidRequest,  # request body too large
    1010: AuthenticationError,  # public key used where the private key is required
    1011: NotFound,  # resource deleted
    1012: InvalidRequest,  # amount outside the allowed limits
    1013: InvalidRequest,  # operation not allowed on the resource
    1014: AuthenticationError,  # account inactive
    1015: ProviderUnavailable,  # no answer from the payment gateway
    1016: InvalidRequest,  # merchant already processed
    1017: ProviderUnavailable,  # payment gateway unavailable
    2001: InvalidRequest,  # CLABE already registered
    2002: InvalidRequest,  # card already registered
    2003: InvalidRequest,  # customer external_id already used
    2004: InvalidRequest,  # card number fails Luhn
    2005: ExpiredCard,  # expiry date in the past
    2006: InvalidRequest,  # CVV required
    2007: InvalidRequest,  # test card used in production
    2008: InvalidRequest,  # card not valid for points
    2009: InvalidRequest,  # bad CVV
    2010: PaymentDeclined,  # 3-D Secure authentication failed
    2011: InvalidRequest,  # card type not supported
    3001: PaymentDeclined,  # declined by the bank
    3002: ExpiredCard,
    3003: InsufficientFunds,
    3004: PaymentDeclined,  # reported stolen
    3005: PaymentDeclined,  # refused by the antifraud system
    3006: PaymentDeclined,  # operation not allowed for this card
    3008: PaymentDeclined,  # card not valid for online purchases
    3009: PaymentDeclined,  # reported lost
    3010: PaymentDeclined,  # restricted by the bank
    3011: PaymentDeclined,  # bank asks to retain the card
    3012: PaymentDeclined,  # bank authorisation required
    4001: InvalidRequest,  # not enough funds in the Openpay account (refunds, payouts)
}


def openpay_error_class(code: Any, status: int) -> type[ProviderError]:
    """The normalised error for an Openpay ``error_code`` (falling back on the HTTP status)."""
    if isinstance(code, int) and not isinstance(code, bool):
        if code in OPENPAY_ERRORS:
            return OPENPAY_ERRORS[code]
        if 3000 <= code < 4000:
            return PaymentDeclined
    return error_class_for_status(status)


def openpay_error(response: httpx.Response) -> ProviderError:
    """A non-2xx Openpay answer as the normalised error, keeping its error_code."""
    status = response.status_code
    body = error_body(response, decimals=True)
    if "error_code" not in body:
        return error_for_status(
            status, provider=PROVIDER, message=f"HTTP {status} without an Openpay error body"
        )
    code = body.get("error_code")
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    cls = openpay_error_class(code, status)
    return cls(
        str(body.get("description") or f"HTTP {status}"),
        provider=PROVIDER,
        provider_code=str(code),
        http_status=status,
        raw=dict(body),
    )
