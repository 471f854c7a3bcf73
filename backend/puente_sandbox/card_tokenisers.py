"""Each card simulator's dialect for the shared card page (``card_page.py``): its test cards
and its own token format, as its tokenisation script would answer.

* Conekta (Conekta.js tokenizer): the published test tokens, ``tok_test_visa_4242`` …
* Openpay (Openpay.js, ``POST /v1/{merchant}/tokens``): a single-use token id like ``k…``.
* Mercado Pago (MercadoPago.js card form, ``POST /v1/card_tokens``): a 32-hex token; the
  cardholder *name* decides the outcome (``APRO``, ``FUND`` …), as in Mercado Pago's tests.
"""

from __future__ import annotations

from puente_sandbox.card_page import CardEntry, CardRefused, CardToken, Tokenise
from puente_sandbox.conekta_objects import TEST_TOKENS as CONEKTA_TOKENS
from puente_sandbox.mercadopago_objects import BY_NUMBER, MPError
from puente_sandbox.mercadopago_state import MercadoPagoState
from puente_sandbox.openpay_objects import OpenpayError
from puente_sandbox.openpay_state import OpenpayState

__all__ = [
    "CONEKTA_HINT",
    "MERCADOPAGO_HINT",
    "OPENPAY_HINT",
    "conekta_tokeniser",
    "mercadopago_tokeniser",
    "openpay_tokeniser",
]

NOT_VALID = "El número de tarjeta no es válido."

# Card number -> Conekta's test token (Conekta.js answers these in test mode).
CONEKTA_NUMBERS = {
    "4242424242424242": "tok_test_visa_4242",
    "5555555555554444": "tok_test_mastercard_4444",
    "378282246310005": "tok_test_amex_0005",
    "4000000000000002": "tok_test_card_declined",
    "4000000000000127": "tok_test_insufficient_funds",
    "4000000000000069": "tok_test_expired_card",
}
CONEKTA_HINT = (
    "Tarjetas de prueba: 4242 4242 4242 4242 (aprobada), 4000 0000 0000 0002 (rechazada), "
    "4000 0000 0000 0127 (fondos insuficientes). Cualquier fecha futura y CVC."
)
OPENPAY_HINT = (
    "Tarjetas de prueba: 4111 1111 1111 1111 (aprobada), 4222 2222 2222 2220 (rechazada), "
    "4444 4444 4444 4448 (fondos insuficientes). Cualquier fecha futura y CVC."
)
MERCADOPAGO_HINT = (
    "Tarjetas de prueba: 4075 5957 1648 3764 (Visa), 5474 9254 3267 0366 (Mastercard). "
    "El nombre decide el resultado: APRO (aprobada), OTHE (rechazada), FUND (sin fondos)."
)


def conekta_tokeniser() -> Tokenise:
    """Conekta.js: a test number becomes its published test token (reusable, as Conekta's)."""

    def tokenise(entry: CardEntry) -> CardToken:
        token = CONEKTA_NUMBERS.get(entry.number)
        if token is None:
            raise CardRefused(NOT_VALID)
        card = CONEKTA_TOKENS[token]
        return CardToken(token, card.brand, card.last4)

    return tokenise


def openpay_tokeniser(state: OpenpayState) -> Tokenise:
    """Openpay.js: ``POST /tokens`` with the card; the single-use token id comes back."""

    def tokenise(entry: CardEntry) -> CardToken:
        params = {
            "card_number": entry.number,
            "holder_name": entry.name or "Puente Sandbox",
            "expiration_month": entry.exp_month,
            "expiration_year": entry.exp_year,
            "cvv2": entry.cvc,
        }
        try:
            token = state.create_token(params)
        except OpenpayError:
            raise CardRefused(NOT_VALID) from None
        brand, last4 = token["card"]["brand"], entry.number[-4:]
        return CardToken(token["id"], brand, last4, device_session_id=state.device_session())

    return tokenise


def mercadopago_tokeniser(state: MercadoPagoState) -> Tokenise:
    """MercadoPago.js: ``POST /v1/card_tokens``; the holder's name picks the outcome."""

    def tokenise(entry: CardEntry) -> CardToken:
        body = {"card_number": entry.number, "cardholder": {"name": entry.name or "APRO"}}
        try:
            token = state.create_card_token(body)
        except MPError:
            raise CardRefused(NOT_VALID) from None
        brand = BY_NUMBER[entry.number].payment_method_id  # known: the token was made
        return CardToken(str(token["id"]), brand, str(token["last_four_digits"]))

    return tokenise
