"""Openpay object shapes, test cards, error bodies and exact-decimal JSON (pure builders).

Shapes follow Openpay México's v1 API (and the official SDKs' models): transactions with
``operation_type``/``transaction_type``/``method``/``status``, ISO-8601 dates with the Mexico
City offset, amounts as decimal numbers, error bodies ``{category, description, http_code,
error_code, request_id}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from puente.money import CENT
from puente_sandbox.formats import MEXICO_CITY
from puente_sandbox.lifecycle import Dialect, Phase

__all__ = [
    "OPENPAY",
    "TEST_CARDS",
    "TEST_TOKENS",
    "OpenpayError",
    "SandboxCard",
    "luhn_valid",
    "openpay_dumps",
    "openpay_fee",
    "openpay_time",
    "plain",
]

# Openpay's dialect of the shared lifecycle (a charge's status; no partially-refunded status).
OPENPAY = Dialect(
    {
        "in_progress": Phase.REQUIRES_ACTION,
        "completed": Phase.SUCCEEDED,
        "failed": Phase.FAILED,
        "cancelled": Phase.EXPIRED,
        "refunded": Phase.REFUNDED,
        "chargeback_pending": Phase.DISPUTED,
    },
    written={Phase.PARTIALLY_REFUNDED: "completed"},
)

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class SandboxCard:
    """An Openpay test card and what charging it does."""

    brand: str
    type: str = "credit"
    bank_name: str = "BANAMEX"
    bank_code: str = "002"
    decline: tuple[int, str] | None = None  # (error_code, description)


# Openpay's published test cards: 4111... (and the other brand numbers) succeed; the rest
# answer with the error Openpay documents for them.
TEST_CARDS: dict[str, SandboxCard] = {
    "4111111111111111": SandboxCard("visa", "debit"),
    "4242424242424242": SandboxCard("visa"),
    "5555555555554444": SandboxCard("mastercard", bank_name="BBVA BANCOMER", bank_code="012"),
    "345678000000007": SandboxCard("american_express", bank_name="AMERICAN EXPRESS"),
    "4222222222222220": SandboxCard("visa", decline=(3001, "The card was declined")),
    "4000000000000069": SandboxCard("visa", decline=(3002, "The card has expired")),
    "4444444444444448": SandboxCard(
        "visa", decline=(3003, "The card doesn't have sufficient funds")
    ),
    "4000000000000119": SandboxCard("visa", decline=(3004, "The card was reported as stolen")),
    "4000000000000044": SandboxCard(
        "visa", decline=(3005, "Fraud risk detected by anti-fraud system")
    ),
}
# Simulator-only, reusable tokens (real ones come from openpay.js or ``POST /tokens``).
TEST_TOKENS = {f"tok_test_{number}": number for number in TEST_CARDS}


class OpenpayError(Exception):
    """An error Openpay would answer with; ``body(request_id)`` is its exact JSON shape."""

    def __init__(
        self, http_code: int, error_code: int, description: str, category: str = "request"
    ) -> None:
        super().__init__(description)
        self.http_code = http_code
        self.error_code = error_code
        self.description = description
        self.category = category

    def body(self, request_id: str) -> Obj:
        """``{"category", "description", "http_code", "error_code", "request_id"}``."""
        body: Obj = {
            "category": self.category,
            "description": self.description,
            "http_code": self.http_code,
            "error_code": self.error_code,
            "request_id": request_id,
        }
        if self.category == "gateway":
            body["fraud_rules"] = []
        return body

    @classmethod
    def invalid(cls, description: str) -> OpenpayError:
        """1003: a parameter Openpay rejects (422)."""
        return cls(422, 1003, description)

    @classmethod
    def not_found(cls, description: str) -> OpenpayError:
        """1005: no such resource (404)."""
        return cls(404, 1005, description)


def luhn_valid(number: str) -> bool:
    """True for a card number that passes the Luhn check (Openpay's 2004 otherwise)."""
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def openpay_time(timestamp: float) -> str:
    """``2014-05-26T11:56:25-05:00``: Openpay's dates, in Mexico City time."""
    return datetime.fromtimestamp(int(timestamp), MEXICO_CITY).isoformat(timespec="seconds")


def openpay_fee(amount: Decimal, method: str) -> Obj:
    """Fee and its 16% IVA: card and store 2.9% + $2.50, SPEI $8.00 (list prices)."""
    base = (
        Decimal("8.00") if method == "bank_account" else amount * Decimal("0.029") + Decimal("2.50")
    )
    fee = base.quantize(CENT, rounding=ROUND_HALF_UP)
    tax = (fee * Decimal("0.16")).quantize(CENT, rounding=ROUND_HALF_UP)
    return {"amount": fee, "tax": tax, "currency": "MXN"}


def openpay_dumps(value: Any) -> str:
    """JSON with ``Decimal`` written as an exact number (``150.00``), as Openpay's API does."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(str(k))}:{openpay_dumps(v)}" for k, v in value.items())
            + "}"
        )
    if isinstance(value, list | tuple):
        return "[" + ",".join(openpay_dumps(v) for v in value) + "]"
    if isinstance(value, float):
        raise TypeError("the Openpay sandbox never writes floats")
    return json.dumps(value, ensure_ascii=False)


def plain(value: Any) -> Any:
    """``value`` with every ``Decimal`` as a string, for the shared webhook sender.

    The sender encodes with ``json.dumps``, which has no exact form for decimals; webhook
    amounts therefore travel as ``"150.00"`` (the connector reads numbers and strings alike).
    """
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value
