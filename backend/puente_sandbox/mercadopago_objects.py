"""Mercado Pago object shapes, test cards and error bodies for the simulator (pure builders).

Test cards are Mercado Pago México's, and, as in Mercado Pago's test environment, the
cardholder *name* decides the outcome: ``APRO`` approved, ``OTHE`` rejected (other reason),
``CONT`` pending, ``CALL`` call for authorization, ``FUND`` insufficient funds, ``SECU`` bad
security code, ``EXPI`` bad expiry date, ``FORM`` form error. Besides tokens made with
``POST /v1/card_tokens``, the simulator accepts ready-made test tokens
``test_<brand>_<NAME>`` (``test_visa_APRO``, ``test_master_FUND``, ``test_amex_EXPI`` …).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from puente.money import ZERO, parse_amount, round_centavos
from puente_sandbox.formats import MEXICO_CITY, exact_json_number
from puente_sandbox.lifecycle import Dialect, Phase

__all__ = [
    "MERCADOPAGO",
    "BY_NUMBER",
    "HOLDER_OUTCOMES",
    "MEXICO_CITY",
    "TEST_CARDS",
    "MPError",
    "TestCard",
    "amount_param",
    "dumps",
    "end_of_day",
    "mp_fee",
    "mp_time",
    "parse_test_token",
]

# Mercado Pago's dialect of the shared lifecycle (a payment's status).
MERCADOPAGO = Dialect(
    {
        "pending": Phase.REQUIRES_ACTION,
        "approved": Phase.SUCCEEDED,
        "rejected": Phase.FAILED,
        "cancelled": Phase.EXPIRED,
        "refunded": Phase.REFUNDED,
        "charged_back": Phase.DISPUTED,
    },
    written={Phase.PARTIALLY_REFUNDED: "approved"},
)


@dataclass(frozen=True, slots=True)
class TestCard:
    """A Mercado Pago México test card."""

    payment_method_id: str
    name: str
    number: str
    payment_type_id: str = "credit_card"
    issuer_id: int = 160
    security_code_length: int = 3

    @property
    def last4(self) -> str:
        """Last four digits, the only part of the number an answer shows."""
        return self.number[-4:]


TEST_CARDS: dict[str, TestCard] = {
    "master": TestCard("master", "Mastercard", "5474925432670366"),
    "visa": TestCard("visa", "Visa", "4075595716483764"),
    "amex": TestCard("amex", "American Express", "371180303257522", security_code_length=4),
    "debmaster": TestCard("debmaster", "Mastercard Débito", "5579053461482647", "debit_card"),
    "debvisa": TestCard("debvisa", "Visa Débito", "4189141221267633", "debit_card"),
}
BY_NUMBER = {card.number: card for card in TEST_CARDS.values()}
# Cardholder name -> (status, status_detail), as Mercado Pago's test environment answers.
HOLDER_OUTCOMES: dict[str, tuple[str, str]] = {
    "APRO": ("approved", "accredited"),
    "OTHE": ("rejected", "cc_rejected_other_reason"),
    "CONT": ("in_process", "pending_contingency"),
    "CALL": ("rejected", "cc_rejected_call_for_authorize"),
    "FUND": ("rejected", "cc_rejected_insufficient_amount"),
    "SECU": ("rejected", "cc_rejected_bad_filled_security_code"),
    "EXPI": ("rejected", "cc_rejected_bad_filled_date"),
    "FORM": ("rejected", "cc_rejected_bad_filled_other"),
}


def parse_test_token(token: str) -> tuple[TestCard, str] | None:
    """``test_visa_FUND`` -> (the Visa test card, ``FUND``); None for anything else."""
    prefix, _, rest = token.partition("_")
    brand, _, holder = rest.rpartition("_")
    if prefix != "test" or brand not in TEST_CARDS or holder not in HOLDER_OUTCOMES:
        return None
    return TEST_CARDS[brand], holder


class MPError(Exception):
    """An error Mercado Pago would answer with; ``body()`` is its JSON shape."""

    def __init__(
        self,
        status: int,
        message: str,
        error: str = "bad_request",
        causes: list[tuple[int | str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error = error
        self.causes = causes or []

    def body(self) -> dict[str, Any]:
        """``{message, error, status, cause: [{code, description, data}]}``."""
        return {
            "message": self.message,
            "error": self.error,
            "status": self.status,
            "cause": [
                {"code": code, "description": text, "data": None} for code, text in self.causes
            ],
        }

    @classmethod
    def not_found(cls, what: str, code: int = 2000) -> MPError:
        """404, e.g. ``Payment not found`` (cause 2000)."""
        return cls(404, f"{what} not found", "not_found", [(code, f"{what} not found")])


def amount_param(body: Mapping[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    """A positive peso amount parameter, validated as Mercado Pago does."""
    value = body.get(name)
    if value is None:
        if required:
            raise MPError(400, f"{name} attribute can't be null", causes=[(4020, f"{name} null")])
        return None
    try:
        amount = parse_amount(value if isinstance(value, Decimal | int) else str(value))
    except ValueError:
        raise MPError(400, f"Invalid {name}", causes=[(4037, f"Invalid {name}")]) from None
    if amount <= ZERO:
        raise MPError(400, f"Invalid {name}", causes=[(4037, f"Invalid {name}")])
    return amount


def _number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return exact_json_number(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(obj: Any) -> bytes:
    """JSON as Mercado Pago writes it: amounts as plain decimal numbers."""
    return json.dumps(obj, default=_number, ensure_ascii=False).encode()


def mp_time(ts: float) -> str:
    """``2024-05-10T13:43:14.586-06:00``: Mercado Pago's timestamps, in Mexico City time."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(MEXICO_CITY)
    return local.isoformat(timespec="milliseconds")


def end_of_day(ts: float, days: int) -> str:
    """23:59:59.000 Mexico City time, ``days`` days after ``ts``."""
    local = datetime.fromtimestamp(ts, UTC).astimezone(MEXICO_CITY) + timedelta(days=days)
    return local.replace(hour=23, minute=59, second=59, microsecond=0).isoformat(
        timespec="milliseconds"
    )


def mp_fee(amount: Decimal) -> Decimal:
    """Mercado Pago México's card/offline fee with IVA: 3.49 % + $4.00, plus 16 % IVA."""
    fee = round_centavos(amount * Decimal("0.0349") + Decimal("4.00"))
    return fee + round_centavos(fee * Decimal("0.16"))
