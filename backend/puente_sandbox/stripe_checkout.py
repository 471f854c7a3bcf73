"""The payer's card form for the Stripe simulator: what Stripe Elements does in a browser.

A merchant never sees a card number: the provider's fields turn it into a single-use
``tok_…`` that the merchant then charges. The simulator hosts that step as a page:

* ``GET /_checkout/card?return_url=…&cancel_url=…`` shows a card form (no script needed);
* ``POST /_checkout/card`` turns a test card number into a token and sends the payer back to
  ``return_url`` by a form POST of ``token``, ``brand`` and ``last4`` (sent on by
  ``/_checkout/return.js``, or by a button without script): a token in a URL would land in
  access logs, browser history and Referer headers;
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
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.pages import html_page
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
}
NOT_A_TEST_CARD = (
    "Your card was declined. Your request was in test mode, but used a non test (live) card. "
    "For a list of valid test cards, visit: https://stripe.com/docs/testing."
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


def _safe_url(value: str | None) -> str | None:
    parts = urlsplit(value or "")
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _form_page(action: str, return_url: str, cancel_url: str | None, error: str | None) -> Response:
    hidden = f'<input type="hidden" name="return_url" value="{escape(return_url)}">'
    if cancel_url:
        hidden += f'<input type="hidden" name="cancel_url" value="{escape(cancel_url)}">'
    alert = f'<p role="alert"><strong>{escape(error)}</strong></p>' if error else ""
    body = (
        f'{alert}<form method="post" action="{escape(action)}">{hidden}'
        '<p><label>Número de tarjeta<br><input name="number" inputmode="numeric" '
        'autocomplete="cc-number" required maxlength="23"></label></p>'
        '<p><label>Vencimiento (MM/AA)<br><input name="exp" autocomplete="cc-exp" '
        'placeholder="12/34" required maxlength="7"></label></p>'
        '<p><label>CVC<br><input name="cvc" inputmode="numeric" autocomplete="cc-csc" '
        'required maxlength="4"></label></p>'
        '<p><label>Nombre en la tarjeta<br><input name="name" autocomplete="cc-name">'
        "</label></p>"
        '<p><button type="submit">Continuar</button></p></form>'
        "<p><small>Tarjetas de prueba: 4242 4242 4242 4242 (aprobada), "
        "4000 0000 0000 0002 (rechazada), 4000 0000 0000 9995 (fondos insuficientes). "
        "Cualquier fecha futura y CVC.</small></p>"
    )
    if cancel_url:
        body += f'<p><a href="{escape(cancel_url)}">Cancelar y volver</a></p>'
    status = 402 if error else 200
    return html_page("Stripe (sandbox): datos de la tarjeta", body, status)


def card_form_routes(simulator: StripeSimulator) -> list[BaseRoute]:
    """The hosted card form (``/_checkout/card``) of ``simulator``."""
    state = simulator.state

    async def show(request: Request) -> Response:
        return_url = _safe_url(request.query_params.get("return_url"))
        if return_url is None:
            return html_page("Stripe (sandbox)", "<p>Falta <code>return_url</code>.</p>", 400)
        cancel_url = _safe_url(request.query_params.get("cancel_url"))
        return _form_page(request.url.path, return_url, cancel_url, None)

    async def submit(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10, max_part_size=2048)
        return_url = _safe_url(str(form.get("return_url") or ""))
        if return_url is None:
            return html_page("Stripe (sandbox)", "<p>Falta <code>return_url</code>.</p>", 400)
        cancel_url = _safe_url(str(form.get("cancel_url") or ""))
        month, _, year = str(form.get("exp") or "").replace(" ", "").partition("/")
        card = {"number": str(form.get("number") or ""), "exp_month": month, "exp_year": year}
        card["cvc"] = str(form.get("cvc") or "")
        try:
            token = create_token(state, {"card": card})
        except StripeError as exc:
            message = FORM_MESSAGES.get(
                exc.error.get("code", ""), "Revisa los datos de la tarjeta."
            )
            return _form_page(request.url.path, return_url, cancel_url, message)
        back = {
            "token": token["id"],
            "brand": token["card"]["brand"],
            "last4": token["card"]["last4"],
        }
        return _return_page(return_url, back)

    async def return_script(request: Request) -> Response:
        return Response(_RETURN_SCRIPT, media_type="text/javascript")

    return [
        Route("/_checkout/card", show, methods=["GET"]),
        Route("/_checkout/card", submit, methods=["POST"]),
        Route("/_checkout/return.js", return_script, methods=["GET"]),
    ]


# Sends the payer on at once; a file, not inline script, so a strict CSP allows it.
_RETURN_SCRIPT = 'document.getElementById("volver").submit();\n'


def _return_page(return_url: str, values: dict[str, str]) -> Response:
    """Back to the merchant by POST: the token travels in the body, never in a URL."""
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(value)}">'
        for name, value in values.items()
    )
    body = (
        f'<form method="post" action="{escape(return_url)}" id="volver">{hidden}'
        '<p><button type="submit">Volver al comercio</button></p></form>'
        '<script src="return.js"></script>'
    )
    return html_page("Stripe (sandbox): tarjeta verificada", body)
