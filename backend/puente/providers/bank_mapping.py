"""Reading the generic bank API's objects and errors into Puente's values; pure functions.

Error body: ``{"error": {"code": "<snake_case>", "message": "...", "request_id": "..."}}``.
Codes and what they become:

    400 invalid_request, invalid_clabe           InvalidRequest
    401 invalid_token, 403 forbidden             AuthenticationError
    404 not_found                                NotFound
    409 idempotency_conflict                     InvalidRequest (same key, other body)
    422 account_not_found, beneficiary_blocked   InvalidRequest
    422 insufficient_funds                       InsufficientFunds
    422 payment_rejected                         PaymentDeclined (e.g. the bank's AML screen)
    429 rate_limited                             RateLimited (Retry-After honoured)
    5xx internal_error, unavailable              ProviderUnavailable

Payment statuses: ``pending``/``processing`` → pending, ``settled`` → succeeded, ``returned``
→ returned, ``rejected``/``failed`` → failed; anything else is a ``MalformedResponse``.
Amounts are decimal strings in pesos (``"150.00"``); times are ISO 8601 with an offset.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from puente.money import parse_amount
from puente.providers import values
from puente.providers.answers import error_body
from puente.providers.bank_tables import BANK_TABLES
from puente.providers.errors import (
    ProviderError,
    error_for_status,
    reading_response,
)
from puente.providers.values import MovementDirection

__all__ = [
    "BANK_STATUSES",
    "bank_balance",
    "bank_error",
    "bank_holder",
    "bank_movement",
    "bank_transfer",
]

PROVIDER = "bank"
BANK_STATUSES = BANK_TABLES.transfer_statuses


def bank_error(response: httpx.Response) -> ProviderError:
    """A non-2xx answer as the right normalised error, keeping the bank's code and message."""
    status = response.status_code
    body = error_body(response)
    error = body.get("error")
    if not isinstance(error, Mapping):
        return error_for_status(status, provider=PROVIDER, message=f"bank answered HTTP {status}")
    code = str(error.get("code") or "")
    message = str(error.get("message") or f"bank answered HTTP {status}")
    cls = BANK_TABLES.errors.get(code)
    if cls is None or status >= 500:
        return error_for_status(
            status, provider=PROVIDER, message=message, provider_code=code or None, raw=dict(body)
        )
    return cls.answered(status, body, provider=PROVIDER, message=message, code=code)


def _when(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("timestamp without an offset")
    return moment


def bank_transfer(payment: Mapping[str, Any]) -> values.SpeiTransfer:
    """A payment object as a ``SpeiTransfer``; unknown statuses are malformed answers."""
    with reading_response(PROVIDER, "payment"):
        raw_status = str(payment["status"])
        status = BANK_TABLES.transfer_status(raw_status, what="payment status")
        failure = payment.get("failure") or {}
        return values.SpeiTransfer(
            provider=PROVIDER,
            provider_id=str(payment["id"]),
            status=status,
            amount=parse_amount(payment["amount"]),
            clave_rastreo=payment.get("clave_rastreo"),
            raw_status=raw_status,
            failure_message=failure.get("message") if isinstance(failure, Mapping) else None,
            raw=dict(payment),
        )


def bank_movement(tx: Mapping[str, Any]) -> values.BankMovement:
    """A transaction line as a ``BankMovement``."""
    with reading_response(PROVIDER, "transaction"):
        counterparty = tx.get("counterparty") or {}
        return values.BankMovement(
            provider=PROVIDER,
            provider_id=str(tx["id"]),
            direction=MovementDirection(tx["direction"]),
            amount=parse_amount(tx["amount"]),
            occurred_at=_when(tx["booked_at"]),
            currency=str(tx.get("currency") or "MXN"),
            clave_rastreo=tx.get("clave_rastreo"),
            counterparty_name=counterparty.get("name"),
            counterparty_clabe=counterparty.get("clabe"),
            concept=tx.get("concept"),
            reference=tx.get("reference"),
            raw=dict(tx),
        )


def bank_balance(body: Mapping[str, Any], account_label: str) -> values.BankBalance:
    """The balance object (``available``, ``ledger``, ``as_of``)."""
    with reading_response(PROVIDER, "balance"):
        ledger = body.get("ledger")
        return values.BankBalance(
            provider=PROVIDER,
            account=account_label,
            available=parse_amount(body["available"], allow_negative=True),
            ledger=parse_amount(ledger, allow_negative=True) if ledger is not None else None,
            as_of=_when(body["as_of"]),
            currency=str(body.get("currency") or "MXN"),
            raw=dict(body),
        )


_NAME_MATCH = {"match": True, "partial": False, "no_match": False}


def bank_holder(body: Mapping[str, Any], clabe: str) -> values.AccountHolder:
    """An account verification: ``partial`` name matches count as no match (money safety)."""
    with reading_response(PROVIDER, "account verification"):
        valid = body["valid"]
        if not isinstance(valid, bool):
            raise TypeError("valid is not a boolean")
        return values.AccountHolder(
            clabe=clabe,
            valid=valid,
            holder_name=body.get("holder_name"),
            bank_name=body.get("bank"),
            name_matches=_NAME_MATCH.get(str(body.get("name_match"))),
            raw=dict(body),
        )
