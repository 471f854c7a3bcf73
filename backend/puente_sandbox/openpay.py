"""Openpay simulator: Openpay México's merchant-scoped v1 paths, Basic auth, errors, webhooks.

Point an Openpay client (our connector, or openpay-python with ``api_base`` changed) at the
app: ``/v1/{merchant}/charges[/{id}[/refund]]`` (also under ``/customers/{id}/``),
``/v1/{merchant}/customers[/{id}[/cards]]``, ``/v1/{merchant}/tokens``,
``/v1/{merchant}/payouts``, ``/v1/{merchant}/webhooks[/{id}[/verify/{code}]]``. Auth is HTTP
Basic with the private key and an empty password; a wrong key or merchant is ``1002``, a
public key ``1010``. ``order_id`` is unique per merchant (``1006``). Test cards (by token
``tok_test_<number>`` or through ``POST /tokens``): ``4111111111111111`` succeeds,
``4222222222222220`` is declined (3001), ``4000000000000069`` expired (3002),
``4444444444444448`` without funds (3003). Webhooks carry the configured ``webhook_user`` and
``webhook_password`` as HTTP Basic credentials. Payer pages: ``/paynet-pdf/{merchant}/{ref}``,
``/spei-pdf/{merchant}/{id}``, ``/barcode/{ref}``; admin: ``POST /_payouts``,
``POST /_payments/{id}/chargeback``.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal
from html import escape
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from puente.money import format_mxn
from puente_sandbox.auth import authorization_key
from puente_sandbox.card_page import card_page_routes
from puente_sandbox.card_tokenisers import OPENPAY_HINT, openpay_tokeniser
from puente_sandbox.core import (
    ExactReferenceSimulator,
    PendingReference,
    public_url,
    sandbox_factory,
)
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.formats import MEXICO_CITY, iso_datetime
from puente_sandbox.openpay_money import charge_back, listing, refund, settle
from puente_sandbox.openpay_objects import OpenpayError, openpay_dumps
from puente_sandbox.openpay_state import Obj, OpenpayState
from puente_sandbox.openpay_vault import openpay_vault_routes
from puente_sandbox.pages import html_page, instructions_page
from puente_sandbox.signing import basic_authorization

__all__ = ["DEFAULT_OPENPAY_CREDENTIALS", "OpenpaySimulator", "create_openpay_sandbox"]

DEFAULT_OPENPAY_CREDENTIALS = sandbox_credentials("openpay")
Handler = Callable[[Request, Any], Any]


def _json(body: Any, status: int = 200) -> Response:
    return Response(openpay_dumps(body), status, media_type="application/json")


class OpenpaySimulator(ExactReferenceSimulator):
    """One simulated Openpay merchant in sandbox mode."""

    name = "openpay"
    webhook_user_agent = "Openpay Webhooks (puente-sandbox)"
    api_error = OpenpayError
    references = "charges"  # a store reference or CLABE pays its charge

    def __init__(self, credentials: Mapping[str, str], webhook_url: str | None, **kwargs: Any):
        super().__init__(credentials, webhook_url, **kwargs)
        self.merchant_id = self.credentials["merchant_id"]
        self.private_key = self.credentials["private_key"]
        self.webhook_user = self.credentials["webhook_user"]
        self.webhook_password = self.first_secret("webhook_password")
        self.state = OpenpayState(self)

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        # Openpay signs nothing: it sends the webhook's registered user and password.
        return {"Authorization": basic_authorization(self.webhook_user, self.webhook_password)}

    def error_body(self, status: int) -> dict[str, Any]:
        code = {429: 1000, 503: 1004, 504: 1015}.get(status, 1000)
        category = "request" if status == 429 else "internal"
        return OpenpayError(status, code, "Service temporarily unavailable", category).body(
            self._request_id()
        )

    def error_response(self, exc: Exception) -> Response:
        assert isinstance(exc, OpenpayError)
        return _json(exc.body(self._request_id()), exc.http_code)

    def json_response(self, body: Any, status: int = 200) -> Response:
        return _json(body, status)

    def _request_id(self) -> str:
        raw = self.ids.digits(32)
        return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"

    # -- the API wrapper: merchant, auth, JSON with decimals, errors ---------------------------
    def _authenticate(self, request: Request) -> None:
        key = authorization_key(request, bearer=False)
        if key.startswith("pk_"):
            raise OpenpayError(403, 1010, "The public key cannot be used for this request")
        merchant = str(request.path_params.get("merchant", ""))
        good_key = hmac.compare_digest(key.encode(), self.private_key.encode())
        if not (key and good_key and merchant == self.merchant_id):
            raise OpenpayError(401, 1002, "The api key or merchant id are invalid")

    @staticmethod
    async def _params(request: Request) -> Any:
        if request.method not in ("POST", "PUT"):
            return dict(request.query_params)
        raw = await request.body()
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise OpenpayError(400, 1001, "The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise OpenpayError(400, 1001, "The request body must be a JSON object")
        return body

    def _api(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                self._authenticate(request)
                params = await self._params(request)
                self.state.expire_due()
                answer = handler(request, params)
            except OpenpayError as exc:
                return self.error_response(exc)
            if answer is None:
                return Response(status_code=204)
            return _json(answer)

        return endpoint

    # -- routes ---------------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        s, api = self.state, self._api

        def arg(request: Request, name: str) -> str:
            return str(request.path_params[name])

        def cid(request: Request) -> str | None:
            return request.path_params.get("customer")

        def route(path: str, handler: Handler, method: str = "GET") -> Route:
            return Route(f"/v1/{{merchant}}{path}", api(handler), methods=[method])

        def charges(prefix: str) -> list[Route]:
            return [
                route(
                    f"{prefix}/charges",
                    lambda r, p: s.create_charge(p, cid(r), public_url(r)),
                    "POST",
                ),
                route(
                    f"{prefix}/charges",
                    lambda r, p: listing(s, "charges", p, {"customer_id": cid(r)}),
                ),
                route(
                    f"{prefix}/charges/{{id}}",
                    lambda r, p: s.get("charges", arg(r, "id"), "charge", cid(r)),
                ),
                route(
                    f"{prefix}/charges/{{id}}/refund",
                    lambda r, p: refund(s, arg(r, "id"), p, cid(r)),
                    "POST",
                ),
            ]

        return [
            *charges(""),
            *charges("/customers/{customer}"),
            route("/customers", lambda r, p: s.create_customer(p), "POST"),
            route("/customers", lambda r, p: listing(s, "customers", p, {})),
            route(
                "/customers/{customer}",
                lambda r, p: s.get("customers", arg(r, "customer"), "customer"),
            ),
            route(
                "/customers/{customer}/cards",
                lambda r, p: s.add_card(arg(r, "customer"), p),
                "POST",
            ),
            route(
                "/customers/{customer}/cards",
                lambda r, p: listing(s, "cards", p, {"customer_id": arg(r, "customer")}),
            ),
            *openpay_vault_routes(self),  # delete a card (openpay_vault.py)
            route("/tokens", lambda r, p: s.create_token(p), "POST"),
            route("/payouts", lambda r, p: listing(s, "payouts", p, {})),
            route("/payouts/{id}", lambda r, p: s.get("payouts", arg(r, "id"), "payout")),
            route("/webhooks", self._create_webhook, "POST"),
            route(
                "/webhooks", lambda r, p: [self._webhook_view(w) for w in s.store.all("webhooks")]
            ),
            route("/webhooks/{id}", lambda r, p: self._webhook_view(self._webhook(arg(r, "id")))),
            route("/webhooks/{id}", self._delete_webhook, "DELETE"),
            route("/webhooks/{id}/verify/{code}", self._verify_webhook, "POST"),
            *card_page_routes(  # the payer's card step (card_page.py)
                "Openpay (sandbox): datos de la tarjeta", OPENPAY_HINT, openpay_tokeniser(s)
            ),
            Route("/barcode/{reference}", self._barcode, methods=["GET"]),
            Route("/paynet-pdf/{merchant}/{reference}", self._voucher, methods=["GET"]),
            Route("/spei-pdf/{merchant}/{id}", self._voucher, methods=["GET"]),
            Route(
                "/_payments/{id}/chargeback",
                self.admin_endpoint(
                    lambda r: charge_back(s, s.get("charges", arg(r, "id"), "charge"))
                ),
                methods=["POST"],
            ),
            Route("/_payouts", self.admin_endpoint(lambda r: settle(s)), methods=["POST"]),
        ]

    # -- webhook registration (deliveries always go to the sandbox's configured URL) ----------
    def _webhook(self, webhook_id: str) -> Obj:
        return self.state.get("webhooks", webhook_id, "webhook")

    @staticmethod
    def _webhook_view(webhook: Obj) -> Obj:
        return {k: v for k, v in webhook.items() if k != "password"}

    def _create_webhook(self, request: Request, params: dict[str, Any]) -> Obj:
        if not params.get("url") or not params.get("event_types"):
            raise OpenpayError.invalid("url and event_types are required")
        webhook = {
            "id": self.state.oid(),
            "url": params["url"],
            "user": params.get("user"),
            "password": params.get("password"),
            "event_types": list(params["event_types"]),
            "status": "unverified",
        }
        self.store.put("webhooks", webhook)
        code = self.ids("", 8)
        self.state.verification_codes[webhook["id"]] = code
        self.state.event("verification", verification_code=code)
        return self._webhook_view(webhook)

    def _verify_webhook(self, request: Request, params: dict[str, Any]) -> None:
        webhook = self._webhook(str(request.path_params["id"]))
        if request.path_params["code"] != self.state.verification_codes.get(webhook["id"]):
            raise OpenpayError(400, 1001, "The verification code is invalid")
        webhook["status"] = "verified"

    def _delete_webhook(self, request: Request, params: dict[str, Any]) -> None:
        webhook = self._webhook(str(request.path_params["id"]))
        webhook["status"] = "deleted"

    # -- the payer's side and the admin helpers ---------------------------------------------
    def pending_references(self) -> list[PendingReference]:
        found = []
        for charge in self.reference_objects():
            if charge["method"] == "card" or charge["status"] != "in_progress":
                continue
            pm = charge["payment_method"]
            store = charge["method"] == "store"
            found.append(
                PendingReference(
                    "openpay",
                    charge["id"],
                    "cash" if store else "spei",
                    charge["amount"],
                    pm["reference"] if store else pm["name"],
                    None if store else pm["clabe"],
                    expires_at=iso_datetime(charge.get("due_date"), naive_zone=MEXICO_CITY),
                    description=charge.get("description") or "",
                )
            )
        return found

    def amount_due(self, found: Obj) -> Decimal:
        return Decimal(found["amount"])

    def settle(self) -> dict[str, Any]:
        with self.refusing():
            return settle(self.state)

    async def _barcode(self, request: Request) -> Response:
        reference = escape(str(request.path_params["reference"]))
        svg = (
            '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="60">'
            f'<text x="10" y="35" font-family="monospace">{reference}</text></svg>'
        )
        return Response(svg, media_type="image/svg+xml")

    async def _voucher(self, request: Request) -> Response:
        wanted = request.path_params.get("id") or request.path_params.get("reference")
        charge = next(
            (
                c
                for c in self.store.all("charges")
                if c["id"] == wanted or (c.get("payment_method") or {}).get("reference") == wanted
            ),
            None,
        )
        if charge is None or request.path_params["merchant"] != self.merchant_id:
            return html_page("Not found", "<p>No such reference.</p>", 404)
        pm = charge["payment_method"]
        rows = [
            ("Charge", charge["id"]),
            ("Amount", format_mxn(charge["amount"])),
            ("Status", charge["status"]),
        ]
        if charge["method"] == "store":
            rows.append(("Paynet reference", pm["reference"]))
        else:
            rows += [("CLABE", pm["clabe"]), ("Bank", pm["bank"]), ("Reference", pm["name"])]
        rows.append(("Due", str(charge.get("due_date"))))
        action = f"{public_url(request)}/_references/{charge['id']}/pay"
        payable = charge["status"] == "in_progress"
        return instructions_page(
            "Openpay test payment instructions", rows, action, request.url.path, payable
        )


# Options: ``sleep`` (webhook retry/fault waits), ``seed`` (reproducible ids),
# ``webhook_retry_delays`` (seconds between delivery attempts).
create_openpay_sandbox = sandbox_factory(OpenpaySimulator)
