"""Mercado Pago simulator: the real v1 paths, Bearer auth, idempotency, errors, notifications.

Paths: ``/v1/card_tokens``, ``/v1/customers[/{id}[/cards[/{card_id}]]]``, ``/v1/payments``,
``/v1/payments/search``, ``/v1/payments/{id}``, ``/v1/payments/{id}/refunds``,
``/v1/chargebacks/{id}``, ``/v1/account/release_report[/list|/{file_name}]``. Test tokens:
``test_<brand>_<NAME>`` (see ``mercadopago_objects``), e.g. ``test_visa_APRO`` (approved),
``test_visa_OTHE`` (rejected), ``test_visa_FUND`` (insufficient funds), ``test_visa_EXPI``
(bad expiry), ``test_visa_CONT`` (pending). OXXO (``payment_method_id`` ``oxxo``) and SPEI
(``clabe``) references are paid from ``/_references/{id}/pay`` or the hosted page
``/_hosted/ticket/{id}``. Simulator-only: ``POST /_payments/{id}/chargeback``, ``POST
/_payouts`` (withdraw the balance). Notifications carry ``x-signature`` and ``x-request-id``.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente.money import format_mxn
from puente_sandbox.auth import authorization_key
from puente_sandbox.card_page import card_page_routes
from puente_sandbox.card_tokenisers import MERCADOPAGO_HINT, mercadopago_tokeniser
from puente_sandbox.core import (
    PendingReference,
    Simulator,
    public_url,
    sandbox_factory,
)
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.formats import decimal_json, iso_datetime
from puente_sandbox.mercadopago_objects import MPError, dumps
from puente_sandbox.mercadopago_state import MercadoPagoState
from puente_sandbox.mercadopago_vault import mercadopago_vault_routes
from puente_sandbox.pages import html_page, instructions_page
from puente_sandbox.signing import mercadopago_signature

__all__ = [
    "DEFAULT_MERCADOPAGO_CREDENTIALS",
    "MercadoPagoSimulator",
    "create_mercadopago_sandbox",
]

DEFAULT_MERCADOPAGO_CREDENTIALS = sandbox_credentials("mercadopago")
Handler = Callable[[Request, Any], Any]


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=dict(headers or {}), media_type="application/json")


def _key_reused(key: str) -> MPError:
    return MPError(
        409,
        "The idempotency key was already used with another request",
        "conflict",
        [("idempotency_key_already_used", key)],
    )


class MercadoPagoSimulator(Simulator):
    """One simulated Mercado Pago seller in the test environment."""

    name = "mercadopago"
    webhook_user_agent = "MercadoPago WebHook v1.0 payment"
    api_error = MPError

    def __init__(self, credentials: Mapping[str, str], webhook_url: str | None, **kwargs: Any):
        super().__init__(credentials, webhook_url, **kwargs)
        self.access_token = self.credentials["access_token"]
        self.webhook_secret = self.first_secret("webhook_secret")
        self.state = MercadoPagoState(self)

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        try:
            data = json.loads(body).get("data") or {}
            data_id = str(data["id"]) if data.get("id") is not None else None
        except (ValueError, AttributeError):
            data_id = None
        request_id = str(uuid.UUID(int=int(self.ids.digits(30))))  # a fresh id per attempt
        signature = mercadopago_signature(data_id, request_id, timestamp, self.webhook_secret)
        return {"x-signature": signature, "x-request-id": request_id}

    def error_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return MPError(429, "Too many requests", "too_many_requests").body()
        if status >= 500:
            return MPError(status, "Internal server error", "internal_server_error").body()
        return MPError(status, f"HTTP {status}", "error").body()

    def error_response(self, exc: Exception) -> Response:
        assert isinstance(exc, MPError)
        return _json(exc.body(), exc.status)

    def json_response(self, body: Any, status: int = 200) -> Response:
        return _json(body, status)

    # -- the API wrapper: auth, JSON, idempotency, errors ------------------------------------
    def _authenticate(self, request: Request) -> None:
        token = authorization_key(request, basic=False)
        token = token or request.query_params.get("access_token", "")
        if not token:
            raise MPError(401, "unauthorized", "unauthorized")
        if not hmac.compare_digest(token.encode(), self.access_token.encode()):
            raise MPError(401, "invalid access token", "unauthorized")

    async def _body(self, request: Request) -> Any:
        raw = await request.body()
        if request.method != "POST" or not raw:
            return {}
        try:
            body = decimal_json(raw)
        except ValueError:
            raise MPError(400, "Invalid JSON body", causes=[("invalid_json", "body")]) from None
        if not isinstance(body, dict):
            raise MPError(400, "The body must be a JSON object")
        return body

    def _api(
        self, handler: Handler, status: int = 200, key_required: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            key = request.headers.get("x-idempotency-key") if request.method == "POST" else None
            attempt = None
            try:
                self._authenticate(request)
                body = await self._body(request)
                self.state.expire_due()
                if key_required and not key:
                    raise MPError(
                        400,
                        "Header X-Idempotency-Key can't be null",
                        causes=[("empty_required_header", "X-Idempotency-Key")],
                    )
                if key:
                    attempt = self.idempotency.attempt(
                        key, request.url.path, dumps(body).decode(), lambda _: _key_reused(key)
                    )
                    if attempt.saved is not None:
                        return _json(attempt.saved.body, attempt.saved.status)
                answer, code = handler(request, body), status
            except MPError as exc:
                answer, code = exc.body(), exc.status
            if attempt and code < 400:
                attempt.keep(code, answer)
            return _json(answer, code)

        return endpoint

    # -- routes ----------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        s, api = self.state, self._api

        def pid(request: Request, name: str = "id") -> str:
            return str(request.path_params[name])

        def route(method: str, path: str, handler: Handler, *args: Any, **kw: Any) -> Route:
            return Route(path, api(handler, *args, **kw), methods=[method])

        return [
            route("POST", "/v1/card_tokens", lambda r, b: s.create_card_token(b), 201),
            route("POST", "/v1/customers", lambda r, b: s.create_customer(b), 201),
            route(
                "GET",
                "/v1/customers/{id}",
                lambda r, b: s.get("customers", pid(r), "Customer", 2002),
            ),
            route("POST", "/v1/customers/{id}/cards", lambda r, b: s.create_card(pid(r), b), 201),
            route(
                "GET",
                "/v1/customers/{id}/cards/{card_id}",
                lambda r, b: s.card_of(pid(r), pid(r, "card_id")),
            ),
            *mercadopago_vault_routes(self),  # delete a card (mercadopago_vault.py)
            route(
                "POST",
                "/v1/payments",
                lambda r, b: s.create_payment(b, public_url(r)),
                201,
                key_required=True,
            ),
            route("GET", "/v1/payments/search", lambda r, b: s.search(r.query_params)),
            route("GET", "/v1/payments/{id}", lambda r, b: s.get("payments", pid(r), "Payment")),
            route("POST", "/v1/payments/{id}/refunds", lambda r, b: s.refund(pid(r), b), 201),
            route(
                "GET",
                "/v1/payments/{id}/refunds",
                lambda r, b: s.get("payments", pid(r), "Payment")["refunds"],
            ),
            route(
                "GET",
                "/v1/chargebacks/{id}",
                lambda r, b: s.get("chargebacks", pid(r), "Chargeback"),
            ),
            route("POST", "/v1/account/release_report", lambda r, b: s.create_report(b), 202),
            route(
                "GET",
                "/v1/account/release_report/list",
                lambda r, b: [
                    {k: v for k, v in x.items() if k not in ("content", "id")}
                    | {"id": x["file_name"]}
                    for x in self.store.all("reports")
                ],
            ),
            Route("/v1/account/release_report/{file_name}", self._report_file, methods=["GET"]),
            *card_page_routes(  # the payer's card step (card_page.py)
                "Mercado Pago (sandbox): datos de la tarjeta",
                MERCADOPAGO_HINT,
                mercadopago_tokeniser(s),
            ),
            Route("/_hosted/ticket/{id}", self._hosted_page, methods=["GET"]),
            Route(
                "/_payments/{id}/chargeback",
                self.admin_endpoint(lambda r: s.chargeback(pid(r))),
                methods=["POST"],
            ),
            Route("/_payouts", self.admin_endpoint(lambda r: s.payout()), methods=["POST"]),
        ]

    async def _report_file(self, request: Request) -> Response:
        try:
            self._authenticate(request)
            report = self.store.get("reports", request.path_params["file_name"])
            if report is None:
                raise MPError(
                    404, f"File {request.path_params['file_name']} not found", "not_found"
                )
        except MPError as exc:
            return self.error_response(exc)
        return Response(report["content"], 200, media_type="text/csv")

    # -- references, payouts, the payer's page ---------------------------------------------
    def pending_references(self) -> list[PendingReference]:
        self.state.expire_due()
        found = []
        for payment in self.store.all("payments"):
            if payment["status"] != "pending" or payment["payment_type_id"] not in (
                "ticket",
                "bank_transfer",
            ):
                continue
            details = payment["transaction_details"]
            spei = payment["payment_type_id"] == "bank_transfer"
            clabe = None
            reference = details.get("payment_method_reference_id")
            if spei:
                info = payment["point_of_interaction"]["transaction_data"]["bank_info"]
                clabe = info["collector"]["account_id"]
                reference = payment["payment_method"]["data"]["reference_id"]
            found.append(
                PendingReference(
                    "mercadopago",
                    str(payment["id"]),
                    "spei" if spei else "cash",
                    payment["transaction_amount"],
                    reference,
                    clabe,
                    expires_at=iso_datetime(payment.get("date_of_expiration")),
                    description=payment.get("description") or "",
                )
            )
        return found

    def pay_reference(self, object_id: str, amount: Decimal | None = None) -> None:
        with self.refusing():
            self.state.pay(object_id, amount)

    def expire_reference(self, object_id: str) -> None:
        with self.refusing():
            self.state.expire(object_id)

    def settle(self) -> dict[str, Any]:
        with self.refusing():
            return self.state.payout()

    async def _hosted_page(self, request: Request) -> Response:
        try:
            payment = self.state.get("payments", request.path_params["id"], "Payment")
        except MPError:
            return html_page("Not found", "<p>No such payment.</p>", 404)
        rows = [
            ("Pago", str(payment["id"])),
            ("Monto", format_mxn(payment["transaction_amount"])),
            ("Estado", f"{payment['status']}/{payment['status_detail']}"),
            ("Vence", str(payment.get("date_of_expiration") or "")),
        ]
        if payment["payment_type_id"] == "bank_transfer":
            info = payment["point_of_interaction"]["transaction_data"]["bank_info"]["collector"]
            rows += [
                ("CLABE", info["account_id"]),
                ("Banco", info["long_name"]),
                ("Referencia", payment["payment_method"]["data"]["reference_id"]),
            ]
        else:
            rows += [
                ("Referencia OXXO", payment["transaction_details"]["payment_method_reference_id"])
            ]
        action = f"{public_url(request)}/_references/{payment['id']}/pay"
        payable = payment["status"] == "pending"
        return instructions_page(
            "Mercado Pago: instrucciones de pago", rows, action, request.url.path, payable
        )


# Options: ``sleep``, ``seed``, ``webhook_retry_delays`` (as every simulator).
create_mercadopago_sandbox = sandbox_factory(MercadoPagoSimulator)
