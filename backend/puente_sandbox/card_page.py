"""The payer's card page every card simulator hosts: what a gateway's tokenisation does.

A merchant never sees a card number: the gateway's fields (Stripe Elements, Conekta's
tokenizer, Openpay.js, Mercado Pago's card form) turn it into a single-use token that the
merchant then charges. Each simulator hosts that step as a page, in its own dialect only
through ``tokenise`` (its own token format and test cards):

* ``GET /_checkout/card?return_url=…&cancel_url=…`` shows a card form (no script needed);
* ``POST /_checkout/card`` asks ``tokenise`` for a token and sends the payer back to
  ``return_url`` by a form POST of ``token``, ``brand`` and ``last4`` (sent on by
  ``/_checkout/return.js``, or by a button without script): a token in a URL would land in
  access logs, browser history and Referer headers.

The number itself is never stored, logged or echoed back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.pages import html_page

__all__ = ["CardEntry", "CardRefused", "CardToken", "Tokenise", "card_page_routes"]


@dataclass(frozen=True, slots=True)
class CardEntry:
    """What the payer typed (digits only in ``number``)."""

    number: str
    exp_month: str
    exp_year: str
    cvc: str
    name: str


@dataclass(frozen=True, slots=True)
class CardToken:
    """What goes back to the merchant: the token and what the payer may be shown."""

    token: str
    brand: str
    last4: str
    device_session_id: str = ""  # Openpay: what openpay-data.js makes in the browser


class CardRefused(Exception):
    """The gateway would not tokenise this card; ``message`` is for the payer (es-MX)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


Tokenise = Callable[[CardEntry], CardToken]


def _safe_url(value: str | None) -> str | None:
    parts = urlsplit(value or "")
    return value if parts.scheme in ("http", "https") and parts.netloc else None


def _form_page(
    title: str, hint: str, action: str, return_url: str, cancel_url: str | None, error: str | None
) -> Response:
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
        f"<p><small>{escape(hint)}</small></p>"
    )
    if cancel_url:
        body += f'<p><a href="{escape(cancel_url)}">Cancelar y volver</a></p>'
    return html_page(title, body, 402 if error else 200)


def _entry(form: object) -> CardEntry:
    get = form.get  # type: ignore[attr-defined]
    month, _, year = str(get("exp") or "").replace(" ", "").partition("/")
    number = "".join(ch for ch in str(get("number") or "") if ch not in " -")
    return CardEntry(number, month, year, str(get("cvc") or ""), str(get("name") or "")[:80])


def card_page_routes(title: str, hint: str, tokenise: Tokenise) -> list[BaseRoute]:
    """The hosted card page (``/_checkout/card``) of one simulator."""
    missing = "<p>Falta <code>return_url</code>.</p>"

    async def show(request: Request) -> Response:
        return_url = _safe_url(request.query_params.get("return_url"))
        if return_url is None:
            return html_page(title, missing, 400)
        cancel_url = _safe_url(request.query_params.get("cancel_url"))
        return _form_page(title, hint, request.url.path, return_url, cancel_url, None)

    async def submit(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=10, max_part_size=2048)
        return_url = _safe_url(str(form.get("return_url") or ""))
        if return_url is None:
            return html_page(title, missing, 400)
        cancel_url = _safe_url(str(form.get("cancel_url") or ""))
        try:
            token = tokenise(_entry(form))
        except CardRefused as refused:
            path = request.url.path
            return _form_page(title, hint, path, return_url, cancel_url, refused.message)
        back = {"token": token.token, "brand": token.brand, "last4": token.last4}
        if token.device_session_id:
            back["device_session_id"] = token.device_session_id
        return _return_page(title, return_url, back)

    async def return_script(request: Request) -> Response:
        return Response(_RETURN_SCRIPT, media_type="text/javascript")

    return [
        Route("/_checkout/card", show, methods=["GET"]),
        Route("/_checkout/card", submit, methods=["POST"]),
        Route("/_checkout/return.js", return_script, methods=["GET"]),
    ]


# Sends the payer on at once; a file, not inline script, so a strict CSP allows it.
_RETURN_SCRIPT = 'document.getElementById("volver").submit();\n'


def _return_page(title: str, return_url: str, values: dict[str, str]) -> Response:
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
    return html_page(f"{title}: tarjeta verificada", body)
