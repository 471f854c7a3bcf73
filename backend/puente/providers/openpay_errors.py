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
    PaymentDeclined,
    ProviderError,
    error_class_for_status,
    error_for_status,
)
from puente.providers.openpay_tables import OPENPAY_TABLES

__all__ = ["OPENPAY_ERRORS", "openpay_error", "openpay_error_class"]

PROVIDER = "openpay"
OPENPAY_ERRORS = OPENPAY_TABLES.errors


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
