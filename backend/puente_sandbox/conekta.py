"""Conekta simulator: Conekta's real v2 paths, auth, versioned Accept, errors, signed webhooks.

Point a Conekta client (our connector, or conekta-python with its host changed) at the app:
``/customers[/{id}[/payment_sources]]``, ``/orders[/{id}[/refunds]]``, ``/transactions``,
``/transfers``, ``/events``, ``/webhook_keys``. Auth is ``Bearer <private key>`` (or Basic
``key:``); the ``Accept`` header must name a 2.x version; POSTs honour ``Idempotency-Key``.
Test tokens: ``tok_test_visa_4242``, ``tok_test_mastercard_4444`` (paid),
``tok_test_card_declined``, ``tok_test_insufficient_funds`` and the simulator-only
``tok_test_expired_card``. Webhooks carry ``Digest`` (RSA PKCS#1 v1.5 / SHA-256 over the body)
made with the sandbox's own key pair; ``POST /webhook_keys`` returns its public half.
Simulator-only: ``/_hosted/oxxo/{ord}``, ``/_hosted/spei/{ord}`` (the payer's page),
``POST /_payments/{ord}/chargeback``, ``POST /_payouts``.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from puente.money import format_mxn, from_centavos
from puente_sandbox.auth import authorization_key
from puente_sandbox.card_page import card_page_routes
from puente_sandbox.card_tokenisers import CONEKTA_HINT, conekta_tokeniser
from puente_sandbox.conekta_money import charge_back, list_page, refund, settle
from puente_sandbox.conekta_objects import ConektaError, public_pem, sandbox_signing_key
from puente_sandbox.conekta_state import ConektaState, Obj
from puente_sandbox.conekta_vault import conekta_vault_routes
from puente_sandbox.core import (
    ExactReferenceSimulator,
    IdempotencyConflict,
    PendingReference,
    public_url,
    sandbox_factory,
)
from puente_sandbox.faults import route_path
from puente_sandbox.pages import html_page, instructions_page
from puente_sandbox.signing import rsa_sha256_b64

__all__ = [
    "ConektaSimulator",
    "create_conekta_sandbox",
    "default_conekta_credentials",
    "sandbox_webhook_public_key",
]

logger = logging.getLogger("puente_sandbox")
SANDBOX_PRIVATE_KEY = "key_puente_sandbox_000000000000"
_ACCEPT = re.compile(r"application/vnd\.conekta-v(\d+)\.(\d+)\.(\d+)\+json")
Handler = Callable[[Request, dict[str, Any]], Obj]


def sandbox_webhook_public_key() -> str:
    """The PEM a default sandbox's ``POST /webhook_keys`` returns (the ``webhook_key`` to set)."""
    return public_pem(sandbox_signing_key())


def default_conekta_credentials() -> dict[str, str]:
    """Credentials that work against a sandbox built with its default key pair."""
    return {"private_key": SANDBOX_PRIVATE_KEY, "webhook_key": sandbox_webhook_public_key()}


def _signing_key(pem: str | None) -> rsa.RSAPrivateKey:
    if not pem:
        return sandbox_signing_key()
    key = serialization.load_pem_private_key(pem.replace("\\n", "\n").encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the Conekta sandbox signs with an RSA private key")
    return key


def _key_reused(conflict: IdempotencyConflict) -> ConektaError:
    return ConektaError.invalid(
        "Idempotency-Key",
        "La llave de idempotencia ya se usó con otra petición.",
        "conekta.errors.parameter_validation.idempotency_key",
    )


class ConektaSimulator(ExactReferenceSimulator):
    """One simulated Conekta company in test mode."""

    name = "conekta"
    webhook_user_agent = "Conekta Webhooks (puente-sandbox)"
    api_error = ConektaError
    references = "orders"  # a voucher or CLABE pays its order

    def __init__(
        self,
        credentials: Mapping[str, str],
        webhook_url: str | None,
        *,
        webhook_signing_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.private_key = credentials.get("private_key") or SANDBOX_PRIVATE_KEY
        self.signing_key = _signing_key(webhook_signing_key)
        self.public_key = public_pem(self.signing_key)
        configured = (credentials.get("webhook_key") or "").replace("\\n", "\n").strip()
        if configured and configured != self.public_key.strip():
            # The sandbox cannot sign with a public key; the connector must trust ours.
            logger.warning("conekta sandbox: webhook_key differs from the sandbox's key pair")
        super().__init__(credentials, webhook_url, **kwargs)
        self.state = ConektaState(self)

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        # Conekta signs the body alone; the timestamp plays no part.
        return {"Digest": rsa_sha256_b64(self.signing_key, body)}

    def error_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            error = ConektaError(
                429, "api_error", "conekta.errors.api.rate_limit", "Too many requests."
            )
        else:
            error = ConektaError(
                status,
                "api_error",
                "conekta.errors.api.system.general_failure",
                "There was a runtime error and Conekta engineers have been notified.",
            )
        return error.body(self.state.hex())

    def error_response(self, exc: Exception) -> Response:
        assert isinstance(exc, ConektaError)
        return JSONResponse(exc.body(self.state.hex()), exc.status)

    # -- the API wrapper: auth, version, JSON, idempotency, errors -----------------------------
    def _authenticate(self, request: Request) -> None:
        key = authorization_key(request)
        if not key:
            raise ConektaError(
                401,
                "authentication_error",
                "conekta.errors.authentication.missing_key",
                "Acceso no autorizado.",
                "Please include your access key in your request.",
            )
        if not hmac.compare_digest(key.encode(), self.private_key.encode()):
            raise ConektaError(
                401,
                "authentication_error",
                "conekta.errors.authentication.unrecognized_key",
                "Acceso no autorizado.",
                "Unrecognized access key.",
            )

    @staticmethod
    def _check_version(request: Request) -> None:
        match = _ACCEPT.search(request.headers.get("accept", ""))
        if match is None or match.group(1) != "2":
            raise ConektaError.invalid(
                "accept",
                "La versión del API no es soportada; usa "
                "Accept: application/vnd.conekta-v2.2.0+json.",
                "conekta.errors.parameter_validation.api_version",
            )

    async def _params(self, request: Request) -> dict[str, Any]:
        if request.method != "POST":
            return dict(request.query_params)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ConektaError.invalid("body", "El cuerpo de la petición no es JSON.") from None
        if not isinstance(body, dict):
            raise ConektaError.invalid("body", "El cuerpo debe ser un objeto JSON.")
        return body

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            attempt = None
            try:
                self._authenticate(request)
                self._check_version(request)
                params = await self._params(request)
                self.state.expire_due()
                if key:
                    attempt = self.idempotency.attempt(key, request.url.path, params, _key_reused)
                    if attempt.saved is not None:
                        return JSONResponse(attempt.saved.body, attempt.saved.status)
                status, body = 200, handler(request, params)
            except ConektaError as exc:
                status, body = exc.status, exc.body(self.state.hex())
            # Saved once the endpoint ran (an order paid or declined), not for refusals, so a
            # corrected retry with the same key works.
            if attempt and (status < 400 or status == 402):
                attempt.keep(status, body)
            return JSONResponse(body, status)

        return endpoint

    # -- routes ---------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        s, api = self.state, self._api

        def pid(request: Request) -> str:
            return str(request.path_params["id"])

        def listing(kind: str, filters: dict[str, str] | None = None) -> Handler:
            return lambda r, p: list_page(
                s, kind, p, public_url(r) + route_path(r.scope), filters or {}
            )

        def getter(kind: str, label: str) -> Handler:
            return lambda r, p: s.get(kind, pid(r), label)

        def route(path: str, handler: Handler, method: str = "GET") -> Route:
            return Route(path, api(handler), methods=[method])

        return [
            route("/customers", lambda r, p: s.create_customer(p), "POST"),
            route("/customers", listing("customers", {"email": "email"})),
            route("/customers/{id}", getter("customers", "Customer")),
            route(
                "/customers/{id}/payment_sources",
                lambda r, p: s.add_payment_source(pid(r), p),
                "POST",
            ),
            *conekta_vault_routes(self),  # delete a payment source (conekta_vault.py)
            route("/orders", lambda r, p: s.create_order(p, public_url(r)), "POST"),
            route("/orders", listing("orders", {"payment_status": "payment_status"})),
            route("/orders/{id}", getter("orders", "Order")),
            route("/orders/{id}/refunds", lambda r, p: refund(s, pid(r), p), "POST"),
            route(
                "/transactions", listing("transactions", {"charge_id": "charge", "type": "type"})
            ),
            route("/transactions/{id}", getter("transactions", "Transaction")),
            route("/transfers", listing("transfers", {"status": "status"})),
            route("/transfers/{id}", getter("transfers", "Transfer")),
            route("/events", listing("events", {"type": "type"})),
            route("/events/{id}", getter("events", "Event")),
            route("/webhook_keys", self._create_webhook_key, "POST"),
            route("/webhook_keys", listing("webhook_keys")),
            *card_page_routes(  # the payer's card step (card_page.py)
                "Conekta (sandbox): datos de la tarjeta", CONEKTA_HINT, conekta_tokeniser()
            ),
            Route("/_hosted/oxxo/{id}", self._hosted_page, methods=["GET"]),
            Route("/_hosted/spei/{id}", self._hosted_page, methods=["GET"]),
            Route(
                "/_payments/{id}/chargeback",
                self.admin_endpoint(lambda r: charge_back(s, s.get("orders", pid(r), "Order"))),
                methods=["POST"],
            ),
            Route("/_payouts", self.admin_endpoint(lambda r: settle(s)), methods=["POST"]),
        ]

    def _create_webhook_key(self, request: Request, params: dict[str, Any]) -> Obj:
        """``POST /webhook_keys``: every key shares the sandbox's pair, so all verify."""
        key = {
            "id": self.state.hex(),
            "object": "webhook_key",
            "active": bool(params.get("active", True)),
            "livemode": False,
            "created_at": self.state.now(),
            "public_key": self.public_key,
        }
        return self.store.put("webhook_keys", key)

    # -- the payer's side and the admin helpers ---------------------------------------------
    def pending_references(self) -> list[PendingReference]:
        found = []
        for order in self.reference_objects():
            if order["payment_status"] != "pending_payment":
                continue
            pm = order["charges"]["data"][-1]["payment_method"]
            cash = pm["object"] == "cash_payment"
            found.append(
                PendingReference(
                    "conekta",
                    order["id"],
                    "cash" if cash else "spei",
                    from_centavos(order["amount"]),
                    pm["reference"] if cash else pm["clabe"],
                    None if cash else pm["clabe"],
                    expires_at=datetime.fromtimestamp(pm["expires_at"], UTC),
                    description=order["line_items"]["data"][0]["name"] or "",
                )
            )
        return found

    def amount_due(self, found: Obj) -> Decimal:
        return from_centavos(found["amount"])

    def settle(self) -> dict[str, Any]:
        with self.refusing():
            return settle(self.state)

    async def _hosted_page(self, request: Request) -> Response:
        order = self.store.get("orders", request.path_params["id"])
        if order is None or not order["charges"]["data"]:
            return html_page("Not found", "<p>No such order.</p>", 404)
        pm = order["charges"]["data"][-1]["payment_method"]
        rows = [
            ("Order", order["id"]),
            ("Amount", format_mxn(from_centavos(order["amount"]))),
            ("Status", str(order["payment_status"])),
        ]
        if pm["object"] == "cash_payment":
            rows.append(("OXXO reference", pm["reference"]))
        elif pm["object"] == "bank_transfer_payment":
            rows += [("CLABE", pm["clabe"]), ("Bank", pm["bank"])]
        if pm.get("expires_at"):
            rows.append(("Expires", datetime.fromtimestamp(pm["expires_at"], UTC).isoformat()))
        action = f"{public_url(request)}/_references/{order['id']}/pay"
        payable = order["payment_status"] == "pending_payment"
        return instructions_page(
            "Conekta test payment instructions", rows, action, request.url.path, payable
        )


# Options: ``sleep``, ``seed``, ``webhook_retry_delays`` (as every simulator) and
# ``webhook_signing_key`` (an RSA private key PEM; default: one generated per process).
create_conekta_sandbox = sandbox_factory(ConektaSimulator)
