"""Openpay (México) connector: charges by card, SPEI (``bank_account``) and store (Paynet/OXXO).

Every path is scoped to the merchant (``/v1/{merchant_id}/...``; a customer's objects live
under ``/customers/{id}/...``). Auth is HTTP Basic with the private key as user and an empty
password. Bodies are JSON with amounts as two-decimal strings (``"150.00"``, as Openpay's own
WooCommerce plugin sends them: exact, no float anywhere); answers are read with ``Decimal``.

Openpay has no idempotency header; ``order_id`` is unique per merchant instead (a repeat gets
``1006``/409). The connector sends the idempotency key as ``order_id``, lets the shared HTTP
layer retry charge creation (safe: a repeat cannot charge twice), and on ``1006`` fetches the
charge that key already made, so a lost answer replays the original payment. Refunds carry
the key in their ``description`` and are looked up before a new one is asked for.
Reading objects lives in ``openpay_mapping.py``; webhook auth in ``openpay_webhooks.py``.
"""

from __future__ import annotations

import base64
import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from puente.providers import values
from puente.providers.base import (
    InvalidRequest,
    MalformedResponse,
    PaymentDeclined,
    PaymentGateway,
    PaymentStatus,
    ProviderConfig,
    ProviderError,
    reading_response,
)
from puente.providers.catalogue import OPENPAY
from puente.providers.openpay_errors import openpay_error, openpay_error_class
from puente.providers.openpay_mapping import (
    VoucherLinks,
    created_between,
    openpay_card,
    openpay_customer,
    openpay_payment,
    openpay_refund,
    openpay_refunds,
    openpay_settlement,
    openpay_transactions,
)
from puente.providers.openpay_webhooks import MEXICO_CITY, verify_openpay_webhook
from puente.providers.paging import collect_pages

__all__ = ["SANDBOX_BASE_URL", "OpenpayConnector"]

SANDBOX_BASE_URL = "https://sandbox-api.openpay.mx"
_DASHBOARDS = {
    "https://api.openpay.mx": "https://dashboard.openpay.mx",
    SANDBOX_BASE_URL: "https://sandbox-dashboard.openpay.mx",
}
_DUPLICATE_ORDER = "1006"
_DUPLICATE_CUSTOMER = "2003"
_MAX_ORDER_ID = 100  # Openpay's order_id length limit
_MAX_PAGE = 100
_DEFAULT_DAYS = 3  # reference lifetime when the request does not say


def _split_name(full: str) -> tuple[str, str]:
    first, _, last = full.strip().partition(" ")
    return first or full, last


def _compact(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v not in (None, "", {})}


class OpenpayConnector(PaymentGateway):
    """Openpay México over its v1 REST API."""

    spec = OPENPAY
    default_base_url = "https://api.openpay.mx"  # sandbox: SANDBOX_BASE_URL
    idempotency_header = None  # order_id uniqueness stands in for it
    json_decimals = True  # answers carry amounts as JSON numbers
    parse_error = staticmethod(openpay_error)

    def __init__(
        self,
        config: ProviderConfig,
        *,
        api_version: str | None = None,
        dashboard_url: str | None = None,
        wall_clock: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        self.api_version = api_version
        self._wall_clock = wall_clock or time.time
        super().__init__(config, **kwargs)
        self.merchant_id = self.credential("merchant_id")
        dashboard = dashboard_url or _DASHBOARDS.get(self.base_url, self.base_url)
        self.vouchers = VoucherLinks(dashboard, self.merchant_id)

    def default_headers(self) -> dict[str, str]:
        user = base64.b64encode(f"{self.credential('private_key')}:".encode()).decode()
        headers = {"Authorization": f"Basic {user}"}
        if self.api_version:
            headers["Openpay-Version"] = self.api_version
        return headers

    def _path(self, suffix: str, customer_id: str | None = None) -> str:
        scope = f"/customers/{customer_id}" if customer_id else ""
        return f"/v1/{self.merchant_id}{scope}{suffix}"

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> Any:
        answer = await self.call(
            method,
            path,
            params=params,
            json=_compact(body) if body is not None else None,
            idempotent=idempotent,
        )
        if not isinstance(answer, dict | list):
            raise MalformedResponse(
                f"{path} answered with neither object nor list", provider=self.name
            )
        return answer

    async def _list(self, path: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        limit = min(self.page_size, _MAX_PAGE)

        async def page(offset: int) -> tuple[list[dict[str, Any]], int | None]:
            query = {**params, "offset": str(offset), "limit": str(limit)}
            found = await self._call("GET", path, params=query)
            if not isinstance(found, list):
                raise MalformedResponse(f"{path} did not answer with a list", provider=self.name)
            return found, offset + limit if len(found) >= limit else None

        return await collect_pages(page, 0)

    @staticmethod
    def _creation_params(since: datetime, until: datetime | None) -> dict[str, str]:
        # Openpay filters by calendar day in Mexico City; the exact window is applied after.
        params = {"creation[gte]": since.astimezone(MEXICO_CITY).date().isoformat()}
        if until is not None:
            params["creation[lte]"] = until.astimezone(MEXICO_CITY).date().isoformat()
        return params

    # -- customers -----------------------------------------------------------------------------
    def _customer_body(self, customer: values.CustomerInfo) -> dict[str, Any]:
        first, last = _split_name(customer.name)
        return _compact(
            {
                "name": first,
                "last_name": last,
                "email": customer.email,
                "phone_number": customer.phone,
            }
        )

    async def create_customer(
        self, customer: values.CustomerInfo, *, idempotency_key: str
    ) -> values.ProviderCustomer:
        # external_id is unique per merchant: it makes creation safe to repeat.
        external_id = customer.external_id or idempotency_key
        body = {
            **self._customer_body(customer),
            "external_id": external_id,
            "requires_account": False,
        }
        try:
            answer = await self._call("POST", self._path("/customers"), body, idempotent=True)
        except InvalidRequest as exc:
            if exc.provider_code != _DUPLICATE_CUSTOMER:
                raise
            found = await self._call(
                "GET", self._path("/customers"), params={"external_id": external_id}
            )
            matches = [c for c in found if c.get("external_id") == external_id]
            if not matches:
                raise
            answer = matches[0]
        return openpay_customer(answer)

    async def save_payment_method(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> values.SavedPaymentMethod:
        # A token is single-use and cards have no idempotency: this request is never retried.
        answer = await self._call(
            "POST", self._path("/cards", customer_id), {"token_id": token}, idempotent=False
        )
        return openpay_card(answer)

    # -- charges -------------------------------------------------------------------------------
    @staticmethod
    def _order_id(key: str) -> str:
        return key if len(key) <= _MAX_ORDER_ID else hashlib.sha256(key.encode()).hexdigest()

    async def _by_order_id(self, order_id: str) -> dict[str, Any] | None:
        found = await self._call("GET", self._path("/charges"), params={"order_id": order_id})
        with reading_response(self.name, "charge search"):
            return next((c for c in found if c.get("order_id") == order_id), None)

    def _declined(self, payment: values.ProviderPayment) -> PaymentDeclined:
        code = payment.provider_failure_code
        cls = openpay_error_class(int(code) if code and code.isdigit() else None, 402)
        error_cls = cls if issubclass(cls, PaymentDeclined) else PaymentDeclined
        return error_cls(
            payment.failure_message or "the charge was declined",
            provider=self.name,
            provider_code=code,
            http_status=402,
            payment=payment,
        )

    async def _create_charge(self, path: str, body: dict[str, Any]) -> values.ProviderPayment:
        order_id = body["order_id"]
        try:
            answer = await self._call("POST", path, body, idempotent=True)
        except InvalidRequest as exc:
            if exc.provider_code != _DUPLICATE_ORDER:
                raise
            # This key already made a charge (an earlier attempt whose answer was lost).
            found = await self._by_order_id(order_id)
            if found is None:
                raise
            answer = found
        except PaymentDeclined as exc:
            # Openpay keeps the failed charge; attach it so the attempt can be recorded.
            try:
                found = await self._by_order_id(order_id)
            except ProviderError:
                found = None
            if found is not None:
                exc.payment = openpay_payment(found, self.vouchers)
            raise
        payment = openpay_payment(answer, self.vouchers)
        if payment.status is PaymentStatus.FAILED:
            raise self._declined(payment)
        return payment

    async def charge(self, request: values.ChargeRequest) -> values.ProviderPayment:
        body = {
            "method": "card",
            "source_id": request.token or request.payment_method_id,
            "amount": f"{request.amount:.2f}",
            "currency": "MXN",
            "description": request.description or "Pago",
            "order_id": self._order_id(request.idempotency_key),
            # Openpay's antifraud requires it on card charges (openpay-data.js in the browser).
            "device_session_id": request.device_session_id,
            "metadata": dict(request.metadata),
        }
        return await self._create_charge(self._path("/charges", request.customer_id), body)

    def _due_date(self, request: values.ReferenceRequest) -> str:
        # References lapse at the end of the day, Mexico City time, as stores count days.
        days = request.expires_after_days or _DEFAULT_DAYS
        local = datetime.fromtimestamp(self._wall_clock(), MEXICO_CITY) + timedelta(days=days)
        return local.replace(hour=23, minute=59, second=59, microsecond=0).strftime(
            "%Y-%m-%dT%H:%M:%S"
        )

    async def _reference(
        self, request: values.ReferenceRequest, method: str
    ) -> values.ProviderPayment:
        body: dict[str, Any] = {
            "method": method,
            "amount": f"{request.amount:.2f}",
            "currency": "MXN",
            "description": request.description or "Pago",
            "order_id": self._order_id(request.idempotency_key),
            "due_date": self._due_date(request),
            "metadata": dict(request.metadata),
        }
        if not request.customer_id and request.customer is not None:
            body["customer"] = self._customer_body(request.customer)
        return await self._create_charge(self._path("/charges", request.customer_id), body)

    async def create_spei_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        return await self._reference(request, "bank_account")

    async def create_cash_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        return await self._reference(request, "store")

    async def get_payment(self, provider_id: str) -> values.ProviderPayment:
        answer = await self._call("GET", self._path(f"/charges/{provider_id}"))
        return openpay_payment(answer, self.vouchers)

    async def send_refund(self, request: values.RefundRequest) -> values.ProviderRefund:
        provider_id, amount, reason = request.provider_id, request.amount, request.reason
        charge = await self._call("GET", self._path(f"/charges/{provider_id}"))
        marker = f"[puente:{request.idempotency_key}]"
        for earlier in openpay_refunds(charge):
            if marker in str(earlier.get("description") or ""):
                return openpay_refund(earlier, provider_id)  # asked before: same refund
        body = {
            "description": f"{reason or 'Reembolso'} {marker}"[-250:],
            "amount": f"{amount:.2f}" if amount is not None else None,
        }
        path = self._path(f"/charges/{provider_id}/refund", charge.get("customer_id"))
        # Not retried automatically: without an idempotency key a repeat could refund twice.
        answer = await self._call("POST", path, body, idempotent=False)
        refunds = openpay_refunds(answer)
        with reading_response(self.name, "refund"):
            refund = next(r for r in reversed(refunds) if marker in str(r.get("description")))
        return openpay_refund(refund, provider_id)

    # -- reconciliation ------------------------------------------------------------------------
    async def list_transactions(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderTransaction]:
        charges = await self._list(self._path("/charges"), self._creation_params(since, until))
        charges.reverse()  # Openpay lists newest first; keep creation order for equal times
        lines = [line for charge in charges for line in openpay_transactions(charge)]
        lines = [
            line
            for line in lines
            if line.created_at >= since and (until is None or line.created_at <= until)
        ]
        # Openpay dates have whole seconds: within one, charges come before refunds.
        return sorted(lines, key=lambda line: (line.created_at, line.type != "charge"))

    async def list_settlements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderSettlement]:
        payouts = await self._list(self._path("/payouts"), self._creation_params(since, until))
        payouts.reverse()
        chosen = [p for p in payouts if created_between(p, since, until)]
        return sorted((openpay_settlement(p) for p in chosen), key=lambda s: s.created_at)

    # -- webhooks ------------------------------------------------------------------------------
    async def register_webhook(self, url: str, event_types: list[str]) -> dict[str, Any]:
        """``POST /webhooks`` with this connector's webhook user and password; Openpay answers
        ``unverified`` and posts a ``verification`` event whose code ``verify_webhook_code``
        takes."""
        body = {
            "url": url,
            "user": self.credential("webhook_user"),
            "password": self.credential("webhook_password").split(",")[0].strip(),
            "event_types": event_types,
        }
        return await self._call("POST", self._path("/webhooks"), body, idempotent=False)

    async def verify_webhook_code(self, webhook_id: str, code: str) -> None:
        """``POST /webhooks/{id}/verify/{code}``: activate a registered webhook."""
        await self.http.request("POST", self._path(f"/webhooks/{webhook_id}/verify/{code}"))

    async def authenticate_webhook(
        self, delivery: values.WebhookDelivery
    ) -> values.NormalisedEvent:
        passwords = self.credentials_list("webhook_password")
        return verify_openpay_webhook(
            delivery.raw_body, delivery.headers, self.credential("webhook_user"), passwords
        )
