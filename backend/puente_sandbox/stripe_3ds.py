"""3-D Secure as Stripe runs it for a card that requires it (``tok_threeDSecure2Required``,
4000 0027 6000 3184): the confirmed PaymentIntent waits in ``requires_action`` with a
``redirect_to_url`` next action when the merchant gave a ``return_url`` (``use_stripe_sdk``
otherwise); the payer authenticates (or fails to) on the issuer's page, and is sent back to
the ``return_url`` with ``payment_intent``, ``payment_intent_client_secret`` and
``redirect_status`` in the query, as Stripe does.

    GET  /_3ds/{id}            the issuer's challenge page
    POST /_3ds/{id}            outcome=authenticate | fail
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.core import public_url
from puente_sandbox.pages import html_page

if TYPE_CHECKING:
    from puente_sandbox.stripe import StripeSimulator
    from puente_sandbox.stripe_state import StripeState

__all__ = ["ask_for_authentication", "three_d_secure_routes"]

Obj = dict[str, Any]
FAILURE = {
    "code": "payment_intent_authentication_failure",
    "doc_url": "https://stripe.com/docs/error-codes/payment-intent-authentication-failure",
    "message": "The provided PaymentMethod has failed authentication. You can provide "
    "payment_method_data or a new PaymentMethod to attempt to fulfill this PaymentIntent again.",
    "type": "invalid_request_error",
}


def ask_for_authentication(state: StripeState, pi: Obj, base_url: str) -> None:
    """Leave ``pi`` waiting for the payer's 3-D Secure challenge."""
    back = state.return_urls.get(pi["id"])
    if back:
        action: Obj = {
            "type": "redirect_to_url",
            "redirect_to_url": {"url": f"{base_url}/_3ds/{pi['id']}", "return_url": back},
        }
    else:
        action = {"type": "use_stripe_sdk", "use_stripe_sdk": {"type": "three_d_secure_redirect"}}
    pi.update(status="requires_action", next_action=action)
    state.event("payment_intent.requires_action", pi)


def _waiting(state: StripeState, pi_id: str) -> Obj | None:
    pi = state.store.get("payment_intents", pi_id)
    action = (pi or {}).get("next_action") or {}
    if pi is None or pi["status"] != "requires_action" or action.get("type") != "redirect_to_url":
        return None
    return pi


def three_d_secure_routes(simulator: StripeSimulator) -> list[BaseRoute]:
    state = simulator.state

    async def challenge(request: Request) -> Response:
        pi = _waiting(state, request.path_params["id"])
        if pi is None:
            return html_page("3-D Secure", "<p>Nothing to authenticate.</p>", 404)
        action = f"{public_url(request)}/_3ds/{pi['id']}"
        amount = f"{pi['amount'] / 100:,.2f} MXN"
        body = (
            f"<p>Tu banco pide confirmar el cargo de {escape(amount)}.</p>"
            f'<form method="post" action="{escape(action)}">'
            '<button name="outcome" value="authenticate">Autenticar</button> '
            '<button name="outcome" value="fail">Rechazar</button></form>'
        )
        return html_page("3-D Secure (sandbox)", body)

    async def answer(request: Request) -> Response:
        pi = _waiting(state, request.path_params["id"])
        if pi is None:
            return html_page("3-D Secure", "<p>Nothing to authenticate.</p>", 404)
        outcome = str((await request.form()).get("outcome") or "")
        back = pi["next_action"]["redirect_to_url"]["return_url"]
        if outcome == "authenticate":
            pm = state.get("payment_methods", pi["payment_method"], "PaymentMethod")
            pi["next_action"] = None
            state.succeed(pi, pm)
            status = "succeeded"
        else:
            pi.update(
                status="requires_payment_method",
                next_action=None,
                last_payment_error=dict(FAILURE),
                payment_method=None,
            )
            state.event("payment_intent.payment_failed", pi)
            status = "failed"
        query = urlencode(
            {
                "payment_intent": pi["id"],
                "payment_intent_client_secret": pi.get("client_secret") or "",
                "redirect_status": status,
            }
        )
        joiner = "&" if "?" in back else "?"
        return RedirectResponse(f"{back}{joiner}{query}", status_code=303)

    return [
        Route("/_3ds/{id}", challenge, methods=["GET"]),
        Route("/_3ds/{id}", answer, methods=["POST"]),
    ]
