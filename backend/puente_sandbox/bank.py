"""Simulator of Puente's generic bank API: OAuth2, balance, transactions, SPEI, verification.

Point ``OpenBankingConnector`` at the app's URL. It speaks the contract documented in
``providers/bank.py`` and ``docs/providers.md``: tokens from ``POST /oauth/token`` (HTTP Basic
client credentials; ``token_lifetime`` seconds, default 3600; unknown or expired tokens get
401 ``invalid_token``), ``Idempotency-Key`` required on ``POST /payments/spei`` (same key and
body: the first answer again with ``Idempotent-Replayed: true``; other body: 409), webhooks
signed ``X-Signature: t=…,v1=…``.

Test data: beneficiary ``072580010000000001`` does not exist (422 ``account_not_found``),
``014180000000000000`` settles as ``returned``; ``/accounts/verify`` knows the holders in
``bank_state.HOLDERS``. Payments settle ``settle_after`` seconds after creation (default 2,
``None`` = on demand). Simulator-only: ``POST /_deposits`` (an incoming SPEI waiting on the
sandbox page to be "paid"), ``POST /_settle``, ``POST /_tokens/revoke``; on ``/_references``
pending payments appear too (*pay* settles one, *expire* returns it).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.auth import basic_credentials
from puente_sandbox.bank_state import NOT_FOUND_CLABE, RETURNED_CLABE, BankError, BankState
from puente_sandbox.core import (
    IdempotencyCache,
    IdempotencyConflict,
    PendingReference,
    SandboxError,
    Simulator,
    sandbox_factory,
)
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.signing import timestamped_hmac_header

__all__ = ["DEFAULT_BANK_CREDENTIALS", "OpenBankingSimulator", "create_bank_sandbox"]

DEFAULT_BANK_CREDENTIALS = sandbox_credentials("bank")
Handler = Callable[[Request, dict[str, Any]], Any]


class OpenBankingSimulator(Simulator):
    """One institution's account at a bank implementing Puente's contract."""

    name = "bank"
    webhook_user_agent = "Puente-Bank-Webhooks/1.0 (sandbox)"

    def __init__(
        self,
        credentials: Mapping[str, str],
        webhook_url: str | None,
        *,
        balance: Decimal = Decimal("1000000.00"),
        token_lifetime: int = 3600,
        settle_after: float | None = 2.0,
        clabe: str = "012180015000000003",
        **kwargs: Any,
    ) -> None:
        super().__init__(credentials, webhook_url, **kwargs)
        self.client_id = self.credentials["client_id"]
        self.client_secret = self.credentials["client_secret"]
        self.webhook_secret = self.first_secret("webhook_secret")
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, float] = {}  # access token -> expiry (clock seconds)
        self.tokens_issued = 0
        self.state = BankState(
            self,
            account_id=self.credentials["account_id"],
            clabe=clabe,
            balance=balance,
            settle_after=settle_after,
            returned_clabes=frozenset({RETURNED_CLABE}),
            not_found_clabes=frozenset({NOT_FOUND_CLABE}),
        )

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        return {"X-Signature": timestamped_hmac_header(body, self.webhook_secret, timestamp)}

    def error_body(self, status: int) -> dict[str, Any]:
        if status == 429:
            return BankError(429, "rate_limited", "Too many requests").body()
        return BankError(status, "unavailable", "The service is temporarily unavailable").body()

    # -- OAuth2 ---------------------------------------------------------------------------------
    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        client_id, secret = basic_credentials(request) or (
            form.get("client_id", ""),
            form.get("client_secret", ""),
        )
        good = hmac.compare_digest(client_id.encode(), self.client_id.encode()) and (
            hmac.compare_digest(secret.encode(), self.client_secret.encode())
        )
        if not good:
            body = {"error": "invalid_client", "error_description": "Client authentication failed"}
            return JSONResponse(body, 401, {"WWW-Authenticate": 'Basic realm="bank"'})
        if form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "unsupported_grant_type"}, 400)
        token = self.ids("at_", 32)
        self.tokens[token] = self.clock() + self.token_lifetime
        self.tokens_issued += 1
        answer = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": form.get("scope", ""),
        }
        return JSONResponse(answer, headers={"Cache-Control": "no-store"})

    def revoke_tokens(self) -> None:
        """Invalidate every token before its expiry (the connector must fetch a new one)."""
        self.tokens.clear()

    def _authorized(self, request: Request) -> bool:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        return expiry is not None and self.clock() < expiry

    # -- the API wrapper ------------------------------------------------------------------------
    def _api(self, handler: Handler, *, status: int = 200) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            request_id = self.ids("req_", 16)
            headers = {"X-Request-Id": request_id}
            if not self._authorized(request):
                error = BankError(401, "invalid_token", "The access token is invalid or expired")
                headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
                return JSONResponse(error.body(request_id), 401, headers)
            self.state.settle_due()
            try:
                body: dict[str, Any] = {}
                if request.method == "POST":
                    try:
                        body = json.loads(await request.body() or b"{}")
                    except (UnicodeDecodeError, json.JSONDecodeError):
                        raise BankError(400, "invalid_request", "body is not JSON") from None
                    if not isinstance(body, dict):
                        raise BankError(400, "invalid_request", "body is not a JSON object")
                answer = handler(request, body)
            except BankError as exc:
                return JSONResponse(exc.body(request_id), exc.status, headers)
            return JSONResponse(_public(answer), status, headers)

        return endpoint

    def _payment_endpoint(self) -> Callable[..., Awaitable[Response]]:
        create = self._api(lambda r, b: self.state.create_payment(b), status=201)

        async def endpoint(request: Request) -> Response:
            key = request.headers.get("idempotency-key")
            if not key:
                error = BankError(400, "invalid_request", "Idempotency-Key header is required")
                return JSONResponse(error.body(), 400)
            if not self._authorized(request):
                return await create(request)  # answers 401 without touching the key
            fingerprint = IdempotencyCache.fingerprint((await request.body()).decode("utf-8"))
            try:
                saved = self.idempotency.lookup(key, "/payments/spei", fingerprint)
            except IdempotencyConflict:
                error = BankError(409, "idempotency_conflict", "Key reused with another body")
                return JSONResponse(error.body(), 409)
            if saved is not None:
                replay = {"Idempotent-Replayed": "true"}
                return JSONResponse(saved.body, saved.status, replay)
            response = await create(request)
            if response.status_code in (201, 422):  # outcomes, not validation errors
                body = json.loads(bytes(response.body))
                self.idempotency.save(
                    key, "/payments/spei", fingerprint, response.status_code, body
                )
            return response

        return endpoint

    def routes(self) -> list[BaseRoute]:
        s, api = self.state, self._api

        def account(request: Request) -> None:
            if request.path_params["account_id"] != s.account_id:
                raise BankError(404, "not_found", "No such account")

        def balance(request: Request, body: dict[str, Any]) -> Any:
            account(request)
            return s.balance()

        def transactions(request: Request, body: dict[str, Any]) -> Any:
            account(request)
            return self._transactions(request)

        def payments(request: Request, body: dict[str, Any]) -> Any:
            clave = request.query_params.get("clave_rastreo")
            found = [p for p in s.store.all("payments") if clave in (None, p["clave_rastreo"])]
            return {"data": found}

        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/accounts/verify", api(lambda r, b: s.verify(b)), methods=["POST"]),
            Route("/accounts/{account_id}/balance", api(balance), methods=["GET"]),
            Route("/accounts/{account_id}/transactions", api(transactions), methods=["GET"]),
            Route("/payments/spei", self._payment_endpoint(), methods=["POST"]),
            Route("/payments/spei", api(payments), methods=["GET"]),
            Route(
                "/payments/spei/{id}",
                api(lambda r, b: s.payment(r.path_params["id"])),
                methods=["GET"],
            ),
            Route("/_deposits", self._deposit_endpoint, methods=["POST"]),
            Route("/_settle", self.admin_endpoint(lambda r: self.settle()), methods=["POST"]),
            Route("/_tokens/revoke", self._revoke_endpoint, methods=["POST"]),
        ]

    def _transactions(self, request: Request) -> dict[str, Any]:
        query = request.query_params
        try:
            start = _moment(query.get("from"))
            end = _moment(query.get("to"))
            limit = max(1, min(100, int(query.get("limit") or 100)))
            offset = int((query.get("cursor") or "cur_0").removeprefix("cur_"))
        except ValueError:
            raise BankError(400, "invalid_request", "bad from, to, limit or cursor") from None
        lines = [
            t
            for t in self.state.store.all("transactions")
            if (start is None or t["_at"] >= start) and (end is None or t["_at"] <= end)
        ]
        page = lines[offset : offset + limit]
        more = offset + limit < len(lines)
        return {"data": page, "next_cursor": f"cur_{offset + limit}" if more else None}

    # -- the sandbox's side ---------------------------------------------------------------------
    def pending_references(self) -> list[PendingReference]:
        self.state.settle_due()
        found = [
            PendingReference(
                "bank",
                d["id"],
                "spei",
                d["_due"],
                d["reference"],
                self.state.clabe,
                None,
                d["concept"],
            )
            for d in self.state.deposits.pending()
        ]
        found += [
            PendingReference(
                "bank",
                p["id"],
                "spei-out",
                p["_amount"],
                p["clave_rastreo"],
                p["beneficiary"]["clabe"],
                None,
                p["concept"],
            )
            for p in self.state.store.all("payments")
            if p["status"] == "pending"
        ]
        return found

    def pay_reference(self, object_id: str, amount: Decimal | None = None) -> None:
        if object_id.startswith("pay_"):
            self.state.settle(self._payment(object_id))
        else:
            self.state.pay_deposit(object_id, amount)

    def expire_reference(self, object_id: str) -> None:
        if object_id.startswith("pay_"):
            self.state.settle(self._payment(object_id), return_it=True)
        else:
            self.state.deposits.lapse(object_id)

    def _payment(self, payment_id: str) -> dict[str, Any]:
        try:
            return self.state.payment(payment_id)
        except BankError as exc:
            raise SandboxError(exc.message, 404) from None

    def settle(self) -> dict[str, Any]:
        pending = [p for p in self.state.store.all("payments") if p["status"] == "pending"]
        for payment in pending:
            self.state.settle(payment)
        return {"settled": [p["id"] for p in pending]}

    async def _revoke_endpoint(self, request: Request) -> Response:
        self.revoke_tokens()
        return JSONResponse({"revoked": True})

    async def _deposit_endpoint(self, request: Request) -> Response:
        try:
            params = json.loads(await request.body() or b"{}")
            deposit = self.state.new_deposit(params if isinstance(params, dict) else {})
        except (SandboxError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({**_public(deposit), "amount": str(deposit["_due"])}, 201)


def _moment(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def _public(value: Any) -> Any:
    """Drop the simulator's private ``_fields`` before an object leaves the bank."""
    if isinstance(value, Mapping):
        return {k: _public(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_public(v) for v in value]
    return value


create_bank_sandbox = sandbox_factory(OpenBankingSimulator)
