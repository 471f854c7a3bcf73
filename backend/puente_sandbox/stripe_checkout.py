"""The payer's card form for the Stripe simulator: what Stripe Elements does in a browser.

A merchant never sees a card number: the provider's fields turn it into a single-use
``tok_…`` that the merchant then charges. The simulator hosts that step as a page
(``/_checkout/card``, shared by every card simulator: ``card_page.py``), and

* ``POST /v1/tokens`` (``card[number]``, ``card[exp_month]``, ``card[exp_year]``,
  ``card[cvc]``) does the same for API clients, and ``GET /v1/tokens/{id}`` shows a token.

Test numbers (Stripe's): 4242 4242 4242 4242 and 5555 5555 5555 4444 succeed,
4000 0000 0000 0002 is declined, 4000 0000 0000 9995 has insufficient funds,
4000 0000 0000 0069 is expired; the decline happens when the token is charged, as in Stripe.
Any other number is refused the way Stripe's test mode refuses a real card. A token can be
used once. The number itself is never stored, logged or echoed back.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute

from puente_sandbox.card_page import CardEntry, CardRefused, CardToken, card_page_routes
from puente_sandbox.stripe_objects import TEST_CARDS, StripeError, card_details

if TYPE_CHECKING:
    from puente_sandbox.stripe import StripeSimulator
    from puente_sandbox.stripe_state import StripeState

__all__ = ["TEST_NUMBERS", "card_form_routes", "create_token", "redeem_token"]

# Card number -> TEST_CARDS name (the outcome when the token is charged).
TEST_NUMBERS = {
    "4242424242424242": "visa",
    "5555555555554444": "mastercard",
    "4000000000000002": "chargeDeclined",
    "4000000000009995": "chargeDeclinedInsufficientFunds",
    "4000000000000069": "chargeDeclinedExpiredCard",
    "4000002760003184": "threeDSecure2Required",
}
NOT_A_TEST_CARD = (
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing."
)
HINT = (
    "Tarjetas de prueba: 4242 4242 4242 4242 (aprobada), 4000 0000 0000 0002 (rechazada), "
    "4000 0000 0000 9995 (fondos insuficientes), 4000 0027 6000 3184 (pide 3-D Secure). "
    "Cualquier fecha futura y CVC."
)
FORM_MESSAGES = {  # what the payer reads on the form, by Stripe's error code
    "incorrect_number": "El número de tarjeta no es válido.",
    "card_declined": "Usa una tarjeta de prueba, por ejemplo 4242 4242 4242 4242.",
    "invalid_expiry_month": "El mes de vencimiento no es válido.",
    "invalid_expiry_year": "La tarjeta está vencida o el año no es válido.",
    "invalid_cvc": "El código de seguridad (CVC) no es válido.",
}


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _card_error(message: str, code: str, param: str) -> StripeError:
    return StripeError(402, message, type="card_error", code=code, param=param)


def create_token(state: StripeState, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/tokens``: a single-use token for a test card (Stripe's checks and errors)."""
    card = params.get("card") or {}
    if not isinstance(card, dict) or not card.get("number"):
        raise StripeError.missing("card[number]")
    number = re.sub(r"[\s-]", "", str(card["number"]))
    if not number.isdigit() or not 12 <= len(number) <= 19 or not _luhn_ok(number):
        raise _card_error("Your card number is incorrect.", "incorrect_number", "number")
    name = TEST_NUMBERS.get(number)
    if name is None:
        raise _card_error(NOT_A_TEST_CARD, "card_declined", "number")
    month, year = str(card.get("exp_month") or ""), str(card.get("exp_year") or "")
    if not month.isdigit() or not 1 <= int(month) <= 12:
        raise _card_error(
            "Your card's expiration month is invalid.", "invalid_expiry_month", "exp_month"
        )
    full_year = int(year) + 2000 if year.isdigit() and len(year) == 2 else int(year or 0)
    now = datetime.fromtimestamp(state.now(), UTC)
    if (
        not year.isdigit()
        or (full_year, int(month)) < (now.year, now.month)
        or full_year > now.year + 50
    ):
        raise _card_error(
            "Your card's expiration year is invalid.", "invalid_expiry_year", "exp_year"
        )
    cvc = str(card.get("cvc") or "")
    if cvc and (not cvc.isdigit() or len(cvc) not in (3, 4)):
        raise _card_error("Your card's security code is invalid.", "invalid_cvc", "cvc")
    shown = replace(TEST_CARDS[name], exp_month=int(month), exp_year=full_year)
    token = {
        "id": state.ids("tok_"),
        "object": "token",
        "card": {
            "id": state.ids("card_"),
            "object": "card",
            **card_details(shown, state.ids("", 16)),
        },
        "client_ip": None,
        "created": state.now(),
        "livemode": False,
        "type": "card",
        "used": False,
    }
    state.store.put("tokens", token)
    state.store.put("token_cards", {"id": token["id"], "card": name})  # never the number
    return token


def redeem_token(state: StripeState, token_id: str, param: str) -> str | None:
    """The TEST_CARDS name behind a token this form minted (now used up), or None."""
    token = state.store.get("tokens", token_id)
    if token is None:
        return None
    if token["used"]:
        raise StripeError(
            400,
            f"You cannot use a Stripe token more than once: {token_id}.",
            code="token_already_used",
            param=param,
        )
    token["used"] = True
    return state.store.get("token_cards", token_id)["card"]  # type: ignore[index]


def card_form_routes(simulator: StripeSimulator) -> list[BaseRoute]:
    """The hosted card form (``/_checkout/card``, ``card_page.py``) of ``simulator``."""
    state = simulator.state

    def tokenise(entry: CardEntry) -> CardToken:
        card = {"number": entry.number, "exp_month": entry.exp_month}
        card |= {"exp_year": entry.exp_year, "cvc": entry.cvc}
        try:
            token = create_token(state, {"card": card})
        except StripeError as exc:
            code = exc.error.get("code", "")
            raise CardRefused(FORM_MESSAGES.get(code, "Revisa los datos de la tarjeta.")) from None
        return CardToken(token["id"], token["card"]["brand"], token["card"]["last4"])

    return card_page_routes("Stripe (sandbox): datos de la tarjeta", HINT, tokenise)
