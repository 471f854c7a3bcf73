"""Stripe simulator: Stripe's real v1 paths, auth, idempotency, errors and signed webhooks.

Point a Stripe client (our connector or stripe-python with ``api_base``) at the app's URL:
``/v1/customers``, ``/v1/payment_methods[/{id}[/attach|/detach]]``, ``/v1/payment_intents[/{id}
[/confirm|/cancel]]``, ``/v1/charges``, ``/v1/refunds``, ``/v1/balance_transactions``,
``/v1/payouts``, ``/v1/events``, ``/v1/test_helpers/customers/{id}/fund_cash_balance``.
Test tokens: ``tok_visa`` (succeeds), ``tok_chargeDeclined`` (generic_decline),
``tok_chargeDeclinedInsufficientFunds``, ``tok_chargeDeclinedExpiredCard``,
``tok_chargeDeclinedStolenCard``, ``tok_chargeDeclinedLostCard``,
``tok_chargeDeclinedProcessingError``, ``tok_threeDSecure2Required`` (3-D Secure,
``stripe_3ds.py``); the same suffixes work as ``pm_card_*``. Simulator-only:
``/_hosted/oxxo/{pi}`` and ``/_hosted/spei/{pi}`` (the payer's pages, with a "pay" button),
``POST /_payments/{pi}/dispute``, ``POST /_payouts``.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from puente.money import format_mxn, from_centavos, to_centavos
from puente_sandbox.auth import authorization_key
from puente_sandbox.core import (
    IdempotencyConflict,
    KeyedAttempt,
    PendingReference,
    SandboxError,
    Simulator,
    public_url,
    sandbox_factory,
)
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.faults import route_path
from puente_sandbox.formats import FormError, bracket_form
from puente_sandbox.pages import html_page, instructions_page
from puente_sandbox.signing import timestamped_hmac_header
from puente_sandbox.stripe_funding import expire, expire_due, fund_cash_balance, pay_oxxo
from puente_sandbox.stripe_money import (
    create_dispute,
    create_payout,
    create_refund,
    expand,
    list_objects,
)
from puente_sandbox.stripe_objects import API_VERSION, StripeError
from puente_sandbox.stripe_state import Obj, StripeState
from puente_sandbox.stripe_vault import stripe_vault_routes

__all__ = ["DEFAULT_STRIPE_CREDENTIALS", "StripeSimulator", "create_stripe_sandbox"]

DEFAULT_STRIPE_CREDENTIALS = sandbox_credentials("stripe")
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization "
    "header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See "
    "https://stripe.com/docs/api#authentication for details, or we can help at "
    "https://support.stripe.com/."
)
Handler = Callable[[Request, dict[str, Any]], Obj]


def _masked(key: str) -> str:
    # Stripe echoes a wrong key with all but its prefix and last four characters starred.
    prefix = key[:8] if key.startswith(("sk_", "rk_", "pk_")) else ""
    return prefix + "*" * max(0, len(key) - len(prefix) - 4) + key[-4:]


def _pending_reference(pi: Obj) -> PendingReference | None:
    """What a payer could pay for ``pi``: its OXXO voucher or its SPEI instructions."""
    action = pi.get("next_action") or {}
    if pi["status"] != "requires_action":
        return None
    if action.get("type") == "oxxo_display_details":
        oxxo = action["oxxo_display_details"]
        method, centavos, reference, clabe = "cash", pi["amount"], oxxo["number"], None
        expires_at = datetime.fromtimestamp(oxxo["expires_after"], UTC)
    elif action.get("type") == "display_bank_transfer_instructions":
        spei = action["display_bank_transfer_instructions"]
        method, centavos, reference = "spei", spei["amount_remaining"], spei["reference"]
        clabe, expires_at = spei["financial_addresses"][0]["spei"]["clabe"], None
    else:
        return None
    return PendingReference(
        "stripe",
        pi["id"],
        method,
        from_centavos(centavos),
        reference,
        clabe,
        expires_at=expires_at,
        description=pi.get("description") or "",
    )


class StripeSimulator(Simulator):
    """One simulated Stripe account in test mode."""

    name = "stripe"
    webhook_user_agent = "Stripe/1.0 (+https://stripe.com/docs/webhooks)"
    api_error = StripeError

    def __init__(self, credentials: Mapping[str, str], webhook_url: str | None, **kwargs: Any):
        super().__init__(credentials, webhook_url, **kwargs)
        self.secret_key = self.credentials["secret_key"]
        if self.secret_key.startswith(("sk_live_", "rk_live_")):
            raise ValueError("the Stripe sandbox refuses live keys; use an sk_test_ key")
        self.webhook_secret = self.first_secret("webhook_secret")
        self.state = StripeState(self)

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        return {"Stripe-Signature": timestamped_hmac_header(body, self.webhook_secret, timestamp)}

    def error_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return StripeError(
                429,
                "Request rate limit exceeded. Learn more about rate limits "
                "here https://stripe.com/docs/rate-limits.",
                code="rate_limit",
            ).body()
        return {"error": {"message": "An unknown error occurred", "type": "api_error"}}

    def error_response(self, exc: Exception) -> Response:
        assert isinstance(exc, StripeError)
        return JSONResponse(exc.body(), exc.status)

    # -- the API wrapper: auth, params, idempotency, expand, errors ----------------------------
    def _authenticate(self, request: Request) -> None:
        key = authorization_key(request)
        if not key:
            raise StripeError(401, NO_KEY)
        if not hmac.compare_digest(key.encode(), self.secret_key.encode()):
            raise StripeError(401, f"Invalid API Key provided: {_masked(key)}")

    async def _params(self, request: Request) -> dict[str, Any]:
        text = request.url.query
        if request.method == "POST":
            text = (await request.body()).decode("utf-8", errors="replace")
        try:
            return bracket_form(parse_qsl(text, keep_blank_values=True))
        except FormError as exc:
            raise StripeError(400, str(exc)) from None

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request_id = self.ids("req_", 14)
            headers = {"Request-Id": request_id, "Stripe-Version": API_VERSION}
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            attempt = None
            try:
                self._authenticate(request)
                params = await self._params(request)
                expire_due(self.state)
                if key:
                    headers["Idempotency-Key"] = key
                    attempt = self._attempt(key, request.url.path, params)
                    if attempt.saved is not None:
                        headers["Idempotent-Replayed"] = "true"
                        return JSONResponse(attempt.saved.body, attempt.saved.status, headers)
                self.state.request = {"id": request_id, "idempotency_key": key}
                status, body = 200, handler(request, params)
                if params.get("expand"):
                    body = expand(self.state, body, list(params["expand"]))
            except StripeError as exc:
                status, body = exc.status, exc.body()
                if status == 401:
                    headers["WWW-Authenticate"] = 'Basic realm="Stripe"'
            finally:
                self.state.request = {"id": None, "idempotency_key": None}
            # Stripe saves a result once the endpoint ran (success or card decline), not
            # for requests refused by validation, so a corrected retry with the key works.
            if attempt and (status < 400 or status == 402):
                attempt.keep(status, body)
            return JSONResponse(body, status, headers)

        return endpoint

    def _attempt(self, key: str, path: str, params: Any) -> KeyedAttempt:
        if len(key) > 255:
            raise StripeError(
                400,
                "Idempotency-Key must be at most 255 characters long.",
                type="idempotency_error",
            )

        def reused(conflict: IdempotencyConflict) -> StripeError:
            first = (
                f"can only be used for the same endpoint they were first used for "
                f"('{conflict.saved_path}' vs '{path}')"
                if conflict.reason == "endpoint"
                else "can only be used with the same parameters they were first used with"
            )
            return StripeError(
                400,
                f"Keys for idempotent requests {first}. Try using a key other than '{key}' if "
                "you meant to execute a different request.",
                type="idempotency_error",
            )

        return self.idempotency.attempt(key, path, params, reused)

    # -- routes ---------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        s, api = self.state, self._api

        def pid(request: Request, name: str = "id") -> str:
            return str(request.path_params[name])

        def listing(kind: str, filters: dict[str, str] | None = None) -> Handler:
            return lambda r, p: list_objects(s, kind, p, route_path(r.scope), filters)

        def getter(kind: str, label: str) -> Handler:
            return lambda r, p: s.get(kind, pid(r), label, "id")

        def route(path: str, handler: Handler, method: str = "GET") -> Route:
            return Route(path, api(handler), methods=[method])

        from puente_sandbox.stripe_3ds import three_d_secure_routes
        from puente_sandbox.stripe_checkout import card_form_routes, create_token

        return [
            route("/v1/tokens", lambda r, p: create_token(s, p), "POST"),
            route("/v1/tokens/{id}", getter("tokens", "token")),
            *card_form_routes(self),  # the payer's card form (stripe_checkout.py)
            route("/v1/customers", lambda r, p: s.create_customer(p), "POST"),
            route("/v1/customers", listing("customers", {"email": "email"})),
            route("/v1/customers/{id}", getter("customers", "customer")),
            route("/v1/customers/{id}/cash_balance", self._cash_balance),
            route("/v1/customers/{id}/payment_methods", self._customer_methods),
            route("/v1/payment_methods", lambda r, p: s.create_payment_method(p), "POST"),
            route("/v1/payment_methods/{id}", getter("payment_methods", "PaymentMethod")),
            route("/v1/payment_methods/{id}/attach", lambda r, p: s.attach(pid(r), p), "POST"),
            *stripe_vault_routes(self),  # detach (stripe_vault.py)
            route(
                "/v1/payment_intents",
                lambda r, p: s.create_payment_intent(p, public_url(r)),
                "POST",
            ),
            route("/v1/payment_intents", listing("payment_intents", {"customer": "customer"})),
            route("/v1/payment_intents/{id}", getter("payment_intents", "payment_intent")),
            route(
                "/v1/payment_intents/{id}/confirm",
                lambda r, p: s.confirm(pid(r), p, public_url(r)),
                "POST",
            ),
            route("/v1/payment_intents/{id}/cancel", lambda r, p: s.cancel(pid(r), p), "POST"),
            route(
                "/v1/charges",
                listing("charges", {"payment_intent": "payment_intent", "customer": "customer"}),
            ),
            route("/v1/charges/{id}", getter("charges", "charge")),
            route("/v1/refunds", lambda r, p: create_refund(s, p), "POST"),
            route(
                "/v1/refunds",
                listing("refunds", {"payment_intent": "payment_intent", "charge": "charge"}),
            ),
            route("/v1/refunds/{id}", getter("refunds", "refund")),
            route(
                "/v1/balance_transactions",
                listing("balance_transactions", {"type": "type", "source": "source"}),
            ),
            route(
                "/v1/balance_transactions/{id}",
                getter("balance_transactions", "balance transaction"),
            ),
            route("/v1/payouts", listing("payouts", {"status": "status"})),
            route("/v1/payouts/{id}", getter("payouts", "payout")),
            route("/v1/disputes/{id}", getter("disputes", "dispute")),
            route("/v1/events", listing("events", {"type": "type"})),
            route("/v1/events/{id}", getter("events", "event")),
            route(
                "/v1/test_helpers/customers/{id}/fund_cash_balance",
                lambda r, p: fund_cash_balance(s, pid(r), p),
                "POST",
            ),
            *three_d_secure_routes(self),  # the issuer's challenge (stripe_3ds.py)
            Route("/_hosted/oxxo/{id}", self._hosted_page, methods=["GET"]),
            Route("/_hosted/spei/{id}", self._hosted_page, methods=["GET"]),
            Route(
                "/_payments/{id}/dispute",
                self.admin_endpoint(
                    lambda r: create_dispute(s, s.get("payment_intents", pid(r), "payment_intent"))
                ),
                methods=["POST"],
            ),
            Route("/_payouts", self.admin_endpoint(lambda r: create_payout(s)), methods=["POST"]),
        ]

    def _cash_balance(self, request: Request, params: dict[str, Any]) -> Obj:
        customer = self.state.get("customers", request.path_params["id"], "customer", "customer")
        return {
            "object": "cash_balance",
            "available": {"mxn": self.state.cash.get(customer["id"], 0)},
            "customer": customer["id"],
            "livemode": False,
            "settings": {"reconciliation_mode": "automatic", "using_merchant_default": True},
        }

    def _customer_methods(self, request: Request, params: dict[str, Any]) -> Obj:
        customer = self.state.get("customers", request.path_params["id"], "customer", "customer")
        scoped = {**params, "customer": customer["id"]}
        return list_objects(
            self.state,
            "payment_methods",
            scoped,
            route_path(request.scope),
            {"customer": "customer", "type": "type"},
        )

    # -- the payer's side and the admin helpers ---------------------------------------------
    def _waiting(self, object_id: str) -> Obj:
        expire_due(self.state)
        pi = self.store.get("payment_intents", object_id)
        if pi is None:
            raise SandboxError(f"no PaymentIntent {object_id}", 404)
        if pi["status"] != "requires_action" or not pi.get("next_action"):
            raise SandboxError(f"{object_id} is {pi['status']}; nothing to pay", 409)
        return pi

    def pending_references(self) -> list[PendingReference]:
        expire_due(self.state)
        found = (_pending_reference(pi) for pi in self.store.all("payment_intents"))
        return [reference for reference in found if reference is not None]

    def pay_reference(self, object_id: str, amount: Decimal | None = None) -> None:
        pi = self._waiting(object_id)
        with self.refusing():
            if pi["next_action"]["type"] == "oxxo_display_details":
                pay_oxxo(self.state, pi)  # a store takes the exact voucher amount
                return
            spei = pi["next_action"]["display_bank_transfer_instructions"]
            centavos = to_centavos(amount) if amount is not None else spei["amount_remaining"]
            fund_cash_balance(
                self.state,
                pi["customer"],
                {"amount": str(centavos), "currency": "mxn", "reference": spei["reference"]},
            )

    def expire_reference(self, object_id: str) -> None:
        pi = self._waiting(object_id)
        if pi["next_action"]["type"] == "oxxo_display_details":
            expire(self.state, pi)
        else:  # Stripe's SPEI instructions do not lapse; the merchant cancels instead
            self.state.cancel(pi["id"], {"cancellation_reason": "abandoned"})

    def settle(self) -> dict[str, Any]:
        with self.refusing():
            return create_payout(self.state)

    async def _hosted_page(self, request: Request) -> Response:
        pi = self.store.get("payment_intents", request.path_params["id"])
        if pi is None:
            return html_page("Not found", "<p>No such payment.</p>", 404)
        here = request.url.path
        action = f"{public_url(request)}/_references/{pi['id']}/pay"
        rows = [
            ("Payment", pi["id"]),
            ("Amount", format_mxn(from_centavos(pi["amount"]))),
            ("Status", pi["status"]),
        ]
        details = pi.get("next_action") or {}
        if details.get("type") == "oxxo_display_details":
            oxxo = details["oxxo_display_details"]
            expires = datetime.fromtimestamp(oxxo["expires_after"], UTC).isoformat()
            rows += [("OXXO reference", oxxo["number"]), ("Expires", expires)]
        elif details.get("type") == "display_bank_transfer_instructions":
            spei = details["display_bank_transfer_instructions"]
            rows += [
                ("CLABE", spei["financial_addresses"][0]["spei"]["clabe"]),
                ("Bank", "STP"),
                ("Reference", spei["reference"]),
                ("Amount remaining", format_mxn(from_centavos(spei["amount_remaining"]))),
            ]
        payable = pi["status"] == "requires_action"
        return instructions_page("Stripe test payment instructions", rows, action, here, payable)


# Options: ``sleep`` (webhook retry/fault waits), ``seed`` (reproducible ids),
# ``webhook_retry_delays`` (seconds between delivery attempts).
create_stripe_sandbox = sandbox_factory(StripeSimulator)
