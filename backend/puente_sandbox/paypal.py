"""PayPal simulator: OAuth2, Orders v2, captures/refunds, Vault v3, reporting, signed webhooks.

Paths as PayPal's: ``/v1/oauth2/token``, ``/v2/checkout/orders[/{id}[/capture]]``,
``/v2/payments/captures/{id}[/refund]``, ``/v2/payments/refunds/{id}``,
``/v3/vault/setup-tokens``, ``/v3/vault/payment-tokens[/{id}]``, ``/v1/reporting/transactions``,
``/v1/notifications/verify-webhook-signature`` and ``/v1/notifications/certs/{id}`` (the
self-signed webhook certificate). ``PayPal-Request-Id`` replays answers; ``PayPal-Mock-Response:
{"mock_application_codes": "INSTRUMENT_DECLINED"}`` fails a capture as PayPal's negative
testing does. The payer's side lives in ``paypal_buyer`` (approval pages under ``/_hosted``);
admin: ``POST /_orders/{id}/approve``, ``POST /_setup_tokens/{id}/approve``, ``POST /_payouts``.
PayPal has no SPEI or OXXO, so there are no references to pay here.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from puente_sandbox.auth import basic_credentials
from puente_sandbox.core import (
    IdempotencyConflict,
    Simulator,
    sandbox_factory,
)
from puente_sandbox.core import public_url as reached_url
from puente_sandbox.credentials import sandbox_credentials
from puente_sandbox.paypal_buyer import buyer_routes
from puente_sandbox.paypal_objects import PayPalError, paypal_now, signing_identity
from puente_sandbox.paypal_state import PayPalState
from puente_sandbox.signing import (
    PAYPAL_AUTH_ALGO,
    paypal_transmission_message,
    rsa_sha256_b64,
)

__all__ = ["DEFAULT_PAYPAL_CREDENTIALS", "PayPalSimulator", "create_paypal_sandbox"]

DEFAULT_PAYPAL_CREDENTIALS = sandbox_credentials("paypal")
PAYPAL_SANDBOX_API = "https://api.sandbox.paypal.com"  # the host PayPal's cert URLs name
TOKEN_LIFETIME = 32400
Handler = Callable[[Request, Any], Any]


def _date(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _key_reused(conflict: IdempotencyConflict) -> PayPalError:
    return PayPalError(
        422,
        "DUPLICATE_REQUEST_ID",
        "The PayPal-Request-Id was already used with another request.",
    )


class PayPalSimulator(Simulator):
    """One simulated PayPal business account in the sandbox."""

    name = "paypal"
    webhook_user_agent = "PayPal/AUHD-214.0-58877285"

    def __init__(
        self,
        credentials: Mapping[str, str],
        webhook_url: str | None,
        *,
        public_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(credentials, webhook_url, **kwargs)
        self.client_id, self.client_secret = (
            self.credentials["client_id"],
            self.credentials["client_secret"],
        )
        self.webhook_id = self.credentials["webhook_id"]
        # Until a request shows where we are reachable, cert URLs name PayPal's sandbox host
        # (an in-process transport routes any host to this app).
        self.public_url = public_url or PAYPAL_SANDBOX_API
        self._fixed_url = public_url is not None
        self.key, self.certificate_pem = signing_identity()
        self.cert_id = f"CERT-360caa42-fca2a594-{self.ids('', 8).lower()}"
        self.state = PayPalState(self, lambda: self.public_url)
        self.tokens: dict[str, float] = {}  # access token -> expiry (unix)
        self.signed: dict[str, bytes] = {}  # event id -> body as delivered

    # -- webhooks --------------------------------------------------------------------------
    @property
    def cert_url(self) -> str:
        """Where the webhook signing certificate is served."""
        return f"{self.public_url}/v1/notifications/certs/{self.cert_id}"

    def sign_webhook(self, body: bytes, timestamp: int) -> dict[str, str]:
        try:
            self.signed[str(json.loads(body).get("id"))] = body
        except (ValueError, AttributeError):
            pass
        transmission_id = str(uuid.UUID(int=int(self.ids.digits(30))))
        when = paypal_now(timestamp)
        return {
            "PAYPAL-TRANSMISSION-ID": transmission_id,
            "PAYPAL-TRANSMISSION-TIME": when,
            "PAYPAL-TRANSMISSION-SIG": rsa_sha256_b64(
                self.key, paypal_transmission_message(transmission_id, when, self.webhook_id, body)
            ),
            "PAYPAL-CERT-URL": self.cert_url,
            "PAYPAL-AUTH-ALGO": PAYPAL_AUTH_ALGO,
        }

    def error_body(self, status: int) -> dict[str, Any]:
        return PayPalError(status, debug_id=self.ids("", 13).lower()).body()

    # -- auth, JSON, idempotency -----------------------------------------------------------
    def _learn_url(self, request: Request) -> None:
        if not self._fixed_url:
            self.public_url = reached_url(request)

    async def _token_endpoint(self, request: Request) -> Response:
        self._learn_url(request)
        client_id, secret = basic_credentials(request) or ("", "")
        if not (
            hmac.compare_digest(client_id.encode(), self.client_id.encode())
            and hmac.compare_digest(secret.encode(), self.client_secret.encode())
        ):
            error = PayPalError(
                401, description="Client Authentication failed", oauth="invalid_client"
            )
            return JSONResponse(error.body(), 401)
        form = await request.form()
        if form.get("grant_type") != "client_credentials":
            error = PayPalError(
                400, description="unsupported grant_type", oauth="unsupported_grant_type"
            )
            return JSONResponse(error.body(), 400)
        token = "A21AA" + self.ids("", 90)
        self.tokens[token] = self.clock() + TOKEN_LIFETIME
        return JSONResponse(
            {
                "scope": "https://uri.paypal.com/services/payments/payment "
                "https://uri.paypal.com/services/vault/payment-tokens/readwrite "
                "https://uri.paypal.com/services/reporting/search/read",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": TOKEN_LIFETIME,
                "nonce": f"{paypal_now(self.clock())}{self.ids('', 20)}",
            }
        )

    def _authenticate(self, request: Request) -> None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        expiry = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < self.clock():
            raise PayPalError(
                401, description="Token signature verification failed", oauth="invalid_token"
            )

    def _api(self, handler: Handler, status: int = 200) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self._learn_url(request)
            debug = {"Paypal-Debug-Id": self.ids("", 13).lower()}
            key = request.headers.get("paypal-request-id") if request.method == "POST" else None
            attempt = None
            try:
                self._authenticate(request)
                body = await self._body(request)
                if key:
                    attempt = self.idempotency.attempt(key, request.url.path, body, _key_reused)
                    if attempt.saved is not None:
                        return JSONResponse(attempt.saved.body, attempt.saved.status, debug)
                answer, code = handler(request, body), status
            except PayPalError as exc:
                answer, code = exc.body(), exc.status
            if attempt and code < 400:  # a refused request may be retried once fixed
                attempt.keep(code, answer)
            if "return=minimal" in request.headers.get("prefer", "") and isinstance(answer, dict):
                answer = {k: answer[k] for k in ("id", "status", "links") if k in answer}
            return JSONResponse(answer, code, debug)

        return endpoint

    @staticmethod
    async def _body(request: Request) -> Any:
        raw = await request.body()
        if request.method != "POST" or not raw:
            return {}
        try:
            body = json.loads(raw)
        except ValueError:
            raise PayPalError(
                400, "MALFORMED_REQUEST_JSON", "The request JSON is not well formed."
            ) from None
        if not isinstance(body, dict):
            raise PayPalError(400, "MALFORMED_REQUEST_JSON", "Send a JSON object.")
        return body

    # -- routes ----------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        s, api = self.state, self._api

        def pid(request: Request) -> str:
            return str(request.path_params["id"])

        def route(method: str, path: str, handler: Handler, status: int = 200) -> Route:
            return Route(path, api(handler, status), methods=[method])

        def mock(request: Request) -> str | None:
            try:
                header = json.loads(request.headers.get("paypal-mock-response") or "{}")
                return header.get("mock_application_codes")
            except (ValueError, AttributeError):
                return None

        def require_key(request: Request, body: Mapping[str, Any]) -> None:
            # Single-step orders (a payment source that needs no payer) need PayPal-Request-Id.
            source = body.get("payment_source") or {}
            vaulted = any(isinstance(d, Mapping) and d.get("vault_id") for d in source.values())
            if vaulted and not request.headers.get("paypal-request-id"):
                raise PayPalError(
                    400,
                    "PAYPAL_REQUEST_ID_REQUIRED",
                    "A PayPal-Request-Id is required if you are trying to process "
                    "payment for an Order.",
                )

        def create_order(request: Request, body: Mapping[str, Any]) -> Any:
            require_key(request, body)
            return s.create_order(body)

        return [
            Route("/v1/oauth2/token", self._token_endpoint, methods=["POST"]),
            route("POST", "/v2/checkout/orders", create_order, 201),
            route(
                "GET",
                "/v2/checkout/orders/{id}",
                lambda r, b: s.show(s.get("orders", pid(r), "order_id")),
            ),
            route(
                "POST",
                "/v2/checkout/orders/{id}/capture",
                lambda r, b: s.capture(pid(r), mock(r)),
                201,
            ),
            route("GET", "/v2/payments/captures/{id}", lambda r, b: s.capture_resource(pid(r))),
            route(
                "POST", "/v2/payments/captures/{id}/refund", lambda r, b: s.refund(pid(r), b), 201
            ),
            route(
                "GET",
                "/v2/payments/refunds/{id}",
                lambda r, b: s.get("refunds", pid(r), "refund_id"),
            ),
            route("POST", "/v3/vault/setup-tokens", lambda r, b: s.create_setup_token(b), 201),
            route("POST", "/v3/vault/payment-tokens", lambda r, b: s.create_payment_token(b), 201),
            route(
                "GET",
                "/v3/vault/payment-tokens/{id}",
                lambda r, b: s.show_token(s.get("payment_tokens", pid(r), "payment_token_id")),
            ),
            route(
                "GET", "/v1/reporting/transactions", lambda r, b: s.report(r.query_params, _date)
            ),
            route(
                "POST",
                "/v1/notifications/verify-webhook-signature",
                lambda r, b: self._verify_online(b),
            ),
            Route("/v1/notifications/certs/{id}", self._certificate, methods=["GET"]),
            *buyer_routes(self),
            Route("/_payouts", self.admin_endpoint(lambda r: self.settle()), methods=["POST"]),
        ]

    async def _certificate(self, request: Request) -> Response:
        if request.path_params["id"] != self.cert_id:
            return JSONResponse(
                PayPalError(404, "INVALID_RESOURCE_ID", "Certificate not found.").body(), 404
            )
        return Response(self.certificate_pem, 200, media_type="application/x-x509-ca-cert")

    def _verify_online(self, body: Mapping[str, Any]) -> dict[str, str]:
        """PayPal's verify-webhook-signature: checks against the body it delivered."""
        event = body.get("webhook_event") or {}
        raw = self.signed.get(str(event.get("id")))
        ok = (
            raw is not None
            and json.loads(raw) == event
            and body.get("auth_algo") == PAYPAL_AUTH_ALGO
        )
        if ok:
            message = paypal_transmission_message(
                str(body.get("transmission_id")),
                str(body.get("transmission_time")),
                str(body.get("webhook_id")),
                raw or b"",
            )
            try:
                self.key.public_key().verify(
                    base64.b64decode(str(body.get("transmission_sig"))),
                    message,
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
            except (InvalidSignature, ValueError, binascii.Error):
                ok = False
        return {"verification_status": "SUCCESS" if ok else "FAILURE"}

    def settle(self) -> dict[str, Any]:
        with self.refusing(409):
            return self.state.withdraw()


# Options: ``public_url`` (where cert and approval links point; learned from requests when
# not given), ``sleep``, ``seed``, ``webhook_retry_delays``.
create_paypal_sandbox = sandbox_factory(PayPalSimulator)
