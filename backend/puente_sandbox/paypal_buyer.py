"""The payer's side of the PayPal simulator: approval pages and a scripted sandbox buyer.

PayPal's own sandbox has buyer accounts a tester logs in with to approve orders. Here
``/_hosted/checkoutnow?token=<order>`` (the approval link in orders) shows the order with two
ways to approve: the sandbox buyer's PayPal balance, or a card whose *name* picks the outcome
(PayPal's rejection triggers, e.g. ``CCREJECT-IF``). Approving sends the payer back to the
order's ``return_url`` with ``?token=<order>&PayerID=…``, as PayPal does. The same page with
``?setup_token=<id>`` saves a card for the vault. ``POST /_orders/{id}/approve`` and
``POST /_setup_tokens/{id}/approve`` (JSON ``{"funding": "card"|"paypal", "name": …}``) do
it without a browser.

``act_as_sandbox_buyer`` scripts that buyer for tests: ``charge(token=<name on card>)`` and
``save_payment_method(customer, <name on card>)`` then run PayPal's whole flow (create,
approve, capture / vault) against the simulator.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from puente.money import format_mxn, parse_amount
from puente.providers.base import ChargeRequest, ProviderPayment, SavedPaymentMethod
from puente_sandbox.pages import html_page
from puente_sandbox.paypal_objects import REJECTION_TRIGGERS, SANDBOX_BUYER, PayPalError

if TYPE_CHECKING:
    from puente.providers.paypal import PayPalConnector
    from puente_sandbox.paypal import PayPalSimulator

__all__ = ["act_as_sandbox_buyer", "buyer_routes"]

_WAITING = ("CREATED", "PAYER_ACTION_REQUIRED")


def _approve_form(action: str, funding: str, label: str, with_name: bool) -> str:
    name = (
        '<label>Nombre en la tarjeta <input name="name" value="Comprador Sandbox"></label> '
        if with_name
        else ""
    )
    return (
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="funding" value="{funding}">{name}'
        f'<button type="submit">{escape(label)}</button></form>'
    )


def buyer_routes(simulator: PayPalSimulator) -> list[BaseRoute]:
    """Hosted approval pages and admin approve endpoints for ``simulator``."""
    state = simulator.state

    async def page(request: Request) -> Response:
        order_id = request.query_params.get("token")
        setup_id = request.query_params.get("setup_token")
        here = f"{simulator.public_url}/_hosted/checkoutnow"
        if order_id and state.store.get("orders", order_id):
            order = state.store.get("orders", order_id) or {}
            amount = parse_amount(order["purchase_units"][0]["amount"]["value"])
            body = (
                f"<p>Orden <code>{escape(order_id)}</code>: "
                f"{escape(format_mxn(amount))} — estado {escape(order['status'])}</p>"
            )
            if order["status"] in _WAITING:
                action = f"{here}/approve?token={order_id}"
                body += _approve_form(
                    action, "paypal", f"Pagar como {SANDBOX_BUYER['email_address']}", False
                )
                body += _approve_form(action, "card", "Pagar con tarjeta", True)
                body += (
                    "<p><small>Nombres que rechazan: "
                    + ", ".join(escape(t) for t in REJECTION_TRIGGERS)
                    + "</small></p>"
                )
            return html_page("PayPal (sandbox): aprobar pago", body)
        if setup_id and state.store.get("setup_tokens", setup_id):
            action = f"{here}/approve?setup_token={setup_id}"
            body = _approve_form(action, "card", "Guardar tarjeta", True)
            return html_page("PayPal (sandbox): guardar tarjeta", body)
        return html_page("Not found", "<p>No such order.</p>", 404)

    async def approve_page(request: Request) -> Response:
        form = await request.form()
        name, funding = str(form.get("name") or ""), str(form.get("funding") or "card")
        order_id = request.query_params.get("token")
        try:
            if order_id:
                state.approve_order(order_id, funding, name)
                return_url, _ = (state.store.get("orders", order_id) or {}).get(
                    "_return", (None, None)
                )
                if return_url:
                    query = urlencode({"token": order_id, "PayerID": SANDBOX_BUYER["account_id"]})
                    separator = "&" if "?" in return_url else "?"
                    return RedirectResponse(f"{return_url}{separator}{query}", 303)
            else:
                state.approve_setup_token(str(request.query_params.get("setup_token")), name)
        except PayPalError as exc:
            return html_page("PayPal (sandbox)", f"<p>{escape(exc.description)}</p>", exc.status)
        return html_page("PayPal (sandbox)", "<p>Aprobado. Ya puedes cerrar esta página.</p>")

    def admin(action: Callable[[str, str, str], Any]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body = await request.json() if await request.body() else {}
            try:
                result = action(
                    str(request.path_params["id"]),
                    str(body.get("funding", "card")),
                    str(body.get("name", "")),
                )
            except PayPalError as exc:
                return JSONResponse(exc.body(), exc.status)
            return JSONResponse(state.show_token(result))

        return endpoint

    return [
        Route("/_hosted/checkoutnow", page, methods=["GET"]),
        Route("/_hosted/checkoutnow/approve", approve_page, methods=["POST"]),
        Route("/_orders/{id}/approve", admin(state.approve_order), methods=["POST"]),
        Route(
            "/_setup_tokens/{id}/approve",
            admin(lambda i, _funding, name: state.approve_setup_token(i, name)),
            methods=["POST"],
        ),
    ]


def act_as_sandbox_buyer(connector: PayPalConnector, simulator: PayPalSimulator) -> None:
    """Make ``connector`` go through PayPal's payer approval with the sandbox buyer.

    ``charge(token=<name on card>)`` creates an order, has the buyer approve it with a card
    of that name (rejection triggers decline at capture), then captures it;
    ``save_payment_method(customer, <name on card>)`` does the same with a setup token. The
    approval is done on the simulator's state, as a person on the hosted page would, so its
    webhook goes out with the capture's.
    """
    capture, vault = connector.charge, connector.save_payment_method
    state = simulator.state

    async def charge(request: ChargeRequest) -> ProviderPayment:
        if request.token is None:
            return await capture(request)
        order = await connector.create_order(
            request.amount,
            idempotency_key=f"{request.idempotency_key}:order",
            description=request.description,
            metadata=request.metadata,
        )
        stored = state.store.get("orders", order.provider_id) or {}
        if stored.get("status") in _WAITING:
            state.approve_order(order.provider_id, "card", request.token)
        return await capture(replace(request, token=order.provider_id))

    async def save(customer_id: str, token: str, *, idempotency_key: str) -> SavedPaymentMethod:
        setup = await connector.create_setup_token(
            customer_id, idempotency_key=f"{idempotency_key}:setup"
        )
        if (state.store.get("setup_tokens", setup.id) or {}).get("status") == (
            "PAYER_ACTION_REQUIRED"
        ):
            state.approve_setup_token(setup.id, token)
        return await vault(customer_id, setup.id, idempotency_key=idempotency_key)

    connector.charge = charge  # type: ignore[method-assign]
    connector.save_payment_method = save  # type: ignore[method-assign]
