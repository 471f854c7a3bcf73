"""PayPal connector: Orders v2 (approve, then capture), Vault v3, reporting, signed webhooks.

OAuth2 client credentials (``POST /v1/oauth2/token``, HTTP Basic) give a bearer token cached
until shortly before it expires (``providers/oauth.py``). Every POST carries
``PayPal-Request-Id`` (idempotency; mandatory for single-step orders) and
``Prefer: return=representation``. The flow: ``create_order`` gives the approval link (the
``REDIRECT`` next action); the payer approves on PayPal (PayPal sends them back to the return
URL with ``?token=<order id>``); ``charge(ChargeRequest(token=<order id>))`` captures. Saved
cards: ``create_setup_token`` → payer approves → ``save_payment_method(customer, setup token)``
→ ``charge(payment_method_id=<vault id>)`` in one step. PayPal has no SPEI or OXXO.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import httpx

from puente.providers import values
from puente.providers.base import (
    InvalidRequest,
    MalformedResponse,
    PaymentStatus,
    ProviderConfig,
    reading_response,
)
from puente.providers.catalogue import PAYPAL
from puente.providers.errors import declined_on_creation
from puente.providers.oauth import ClientCredentials, OAuth2ClientCredentials
from puente.providers.paging import collect_pages
from puente.providers.paypal_certs import PAYPAL_CERT_HOSTS, CertificateStore
from puente.providers.paypal_mapping import (
    WITHDRAWAL_CODE,
    decline_for_response_code,
    money,
    paypal_error,
    paypal_order,
    paypal_payment_token,
    paypal_refund,
    paypal_settlement,
    paypal_transaction,
)
from puente.providers.paypal_verification import PayPalWebhookVerification

__all__ = ["PayPalConnector", "SetupToken"]

_REPORT_WINDOW = timedelta(days=31)  # the reporting API's longest start..end range


@dataclass(frozen=True, slots=True)
class SetupToken:
    """A Vault v3 setup token waiting for the payer to add a card (``approve_url``)."""

    id: str
    status: str
    customer_id: str | None
    approve_url: str | None


def _report_date(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PayPalConnector(PayPalWebhookVerification):
    """PayPal over its REST API (Orders v2, Payments v2, Vault v3, Reporting v1)."""

    spec = PAYPAL
    default_base_url = "https://api-m.paypal.com"  # sandbox: https://api-m.sandbox.paypal.com
    idempotency_header = "PayPal-Request-Id"
    post_headers = MappingProxyType({"Prefer": "return=representation"})
    parse_error = staticmethod(paypal_error)
    page_size = 100

    def __init__(
        self,
        config: ProviderConfig,
        *,
        certificate_hosts: frozenset[str] = PAYPAL_CERT_HOSTS,
        brand_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(config, **kwargs)
        self.brand_name = brand_name  # shown on PayPal's approval page
        self.certificates = CertificateStore(
            base_url=self.base_url, hosts=certificate_hosts, transport=config.transport
        )

    def auth(self) -> httpx.Auth:
        return OAuth2ClientCredentials(
            ClientCredentials(
                f"{self.base_url}/v1/oauth2/token",
                self.credential("client_id"),
                self.credential("client_secret"),
            ),
            provider=self.name,
        )

    def default_headers(self) -> dict[str, str]:
        return {"Accept": "application/json", "Accept-Language": "es_MX"}

    def _order(self, body: Any) -> values.ProviderPayment:
        if not isinstance(body, Mapping):
            raise MalformedResponse("order answer is not an object", provider=self.name)
        return paypal_order(body)

    def _raise_if_declined(self, payment: values.ProviderPayment) -> values.ProviderPayment:
        if payment.status is PaymentStatus.FAILED:
            cls, name = decline_for_response_code(payment.provider_failure_code)
            raise declined_on_creation(cls, name, payment)
        return payment

    @staticmethod
    def _unit(
        amount: Decimal, key: str, description: str, metadata: Mapping[str, str]
    ) -> dict[str, Any]:
        unit: dict[str, Any] = {
            "reference_id": "default",
            "custom_id": (metadata.get("custom_id") or key)[:127],
            "amount": money(amount),
        }
        if description:
            unit["description"] = description[:127]
        return unit

    # -- orders: the redirect flow ----------------------------------------------------------
    async def open_order(self, request: values.OrderRequest) -> values.ProviderPayment:
        """An order for the payer to approve; ``next_action.redirect_url`` is PayPal's page."""
        key, return_url = request.idempotency_key, request.return_url
        unit = self._unit(request.amount, key, request.description, request.metadata)
        body: dict[str, Any] = {"intent": "CAPTURE", "purchase_units": [unit]}
        if return_url:
            context = {
                "return_url": return_url,
                "cancel_url": request.cancel_url or return_url,
                "user_action": "PAY_NOW",
                "shipping_preference": "NO_SHIPPING",
                "locale": "es-MX",
            }
            if self.brand_name:
                context["brand_name"] = self.brand_name
            body["payment_source"] = {"paypal": {"experience_context": context}}
        answer = await self.call("POST", "/v2/checkout/orders", body, idempotency_key=key)
        return self._order(answer)

    async def charge(self, request: values.ChargeRequest) -> values.ProviderPayment:
        """Capture an approved order (``token``), or charge a vaulted card in one step."""
        if request.token:
            answer = await self.call(
                "POST",
                f"/v2/checkout/orders/{request.token}/capture",
                {},
                idempotency_key=request.idempotency_key,
            )
        else:
            saved = await self.call("GET", f"/v3/vault/payment-tokens/{request.payment_method_id}")
            with reading_response(self.name, "payment token"):
                kind = "card" if "card" in saved["payment_source"] else "paypal"
            source: dict[str, Any] = {"vault_id": request.payment_method_id}
            if kind == "card":  # an instalment falling due: the payer is not present
                source["stored_credential"] = {
                    "payment_initiator": "MERCHANT",
                    "payment_type": "UNSCHEDULED",
                    "usage": "SUBSEQUENT",
                }
            body = {
                "intent": "CAPTURE",
                "purchase_units": [
                    self._unit(
                        request.amount,
                        request.idempotency_key,
                        request.description,
                        request.metadata,
                    )
                ],
                "payment_source": {kind: source},
            }
            answer = await self.call(
                "POST", "/v2/checkout/orders", body, idempotency_key=request.idempotency_key
            )
        payment = self._raise_if_declined(self._order(answer))
        if payment.amount != request.amount:
            # The payer approved another amount than the service expected: surface it with the
            # payment attached (it may need refunding) instead of reporting success.
            raise InvalidRequest(
                f"PayPal captured {payment.amount}, not {request.amount}",
                provider=self.name,
                provider_code="AMOUNT_MISMATCH",
                payment=payment,
            )
        return payment

    async def get_payment(self, provider_id: str) -> values.ProviderPayment:
        return self._order(await self.call("GET", f"/v2/checkout/orders/{provider_id}"))

    async def send_refund(self, request: values.RefundRequest) -> values.ProviderRefund:
        provider_id, amount, reason = request.provider_id, request.amount, request.reason
        order = await self.get_payment(provider_id)
        with reading_response(self.name, "order captures"):
            captures = order.raw["purchase_units"][0].get("payments", {}).get("captures") or []
            capture_id = captures[-1]["id"] if captures else None
        if capture_id is None:
            raise InvalidRequest(
                f"order {provider_id} has no capture to refund",
                provider=self.name,
                provider_code="NO_CAPTURE",
            )
        body: dict[str, Any] = {}
        if amount is not None:
            body["amount"] = money(amount, order.currency)
        if reason:
            body["note_to_payer"] = reason[:255]
        answer = await self.call(
            "POST",
            f"/v2/payments/captures/{capture_id}/refund",
            body,
            idempotency_key=request.idempotency_key,
        )
        if not isinstance(answer, Mapping):
            raise MalformedResponse("refund answer is not an object", provider=self.name)
        return paypal_refund(answer, provider_id)

    # -- customers and the vault -------------------------------------------------------------
    async def create_customer(
        self, customer: values.CustomerInfo, *, idempotency_key: str
    ) -> values.ProviderCustomer:
        """PayPal has no customer endpoint: the vault customer is born with its first setup
        token, under an id we choose (UNCONFIRMED that PayPal keeps a merchant-chosen id)."""
        seed = customer.external_id or idempotency_key
        customer_id = "puente" + hashlib.sha256(seed.encode()).hexdigest()[:16]
        return values.ProviderCustomer(self.name, customer_id, customer.name, customer.email)

    async def create_setup_token(
        self,
        customer_id: str,
        *,
        idempotency_key: str,
        return_url: str | None = None,
        cancel_url: str | None = None,
    ) -> SetupToken:
        """Start saving a card: the payer adds it on PayPal's page (``approve_url``)."""
        card: dict[str, Any] = {}
        if return_url:
            card["experience_context"] = {
                "return_url": return_url,
                "cancel_url": cancel_url or return_url,
            }
        body = {"payment_source": {"card": card}, "customer": {"id": customer_id}}
        answer = await self.call(
            "POST", "/v3/vault/setup-tokens", body, idempotency_key=idempotency_key
        )
        with reading_response(self.name, "setup token"):
            links = {link["rel"]: link["href"] for link in answer.get("links") or []}
            return SetupToken(
                str(answer["id"]),
                str(answer["status"]),
                (answer.get("customer") or {}).get("id"),
                links.get("approve"),
            )

    async def save_payment_method(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> values.SavedPaymentMethod:
        """Turn an approved setup token (``token``) into a reusable vault payment token."""
        body = {
            "customer": {"id": customer_id},
            "payment_source": {"token": {"id": token, "type": "SETUP_TOKEN"}},
        }
        answer = await self.call(
            "POST", "/v3/vault/payment-tokens", body, idempotency_key=idempotency_key
        )
        if not isinstance(answer, Mapping):
            raise MalformedResponse("payment token answer is not an object", provider=self.name)
        return paypal_payment_token(answer)

    # -- reconciliation ---------------------------------------------------------------------
    def _report_page(
        self, params: Mapping[str, str]
    ) -> Callable[[int], Awaitable[tuple[list[values.ProviderTransaction], int | None]]]:
        """Fetches page ``n`` of one reporting query (pages count from 1)."""

        async def page(number: int) -> tuple[list[values.ProviderTransaction], int | None]:
            answer = await self.call(
                "GET", "/v1/reporting/transactions", params={**params, "page": str(number)}
            )
            with reading_response(self.name, "reporting page"):
                details = list(answer.get("transaction_details") or [])
                found = [paypal_transaction(item) for item in details]
                done = number >= int(answer.get("total_pages") or 1) or not details
            return found, None if done else number + 1

        return page

    async def _report(
        self, since: datetime, until: datetime | None, transaction_type: str | None = None
    ) -> list[values.ProviderTransaction]:
        end = until or datetime.now(UTC)
        lines: list[values.ProviderTransaction] = []
        start = since
        while start <= end:  # one request series per 31-day window
            stop = min(end, start + _REPORT_WINDOW)
            params = {
                "start_date": _report_date(start),
                "end_date": _report_date(stop + timedelta(seconds=1)),
                "fields": "all",
                "page_size": str(min(self.page_size, 500)),
            }
            if transaction_type:
                params["transaction_type"] = transaction_type
            lines.extend(await collect_pages(self._report_page(params), 1))
            start = stop + timedelta(seconds=1)
        lines.sort(key=lambda line: line.created_at)  # stable: PayPal's order breaks ties
        return [line for line in lines if since <= line.created_at <= end]

    async def list_transactions(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderTransaction]:
        return await self._report(since, until)

    async def list_settlements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderSettlement]:
        lines = await self._report(since, until, WITHDRAWAL_CODE)
        return [paypal_settlement(line.raw) for line in lines if line.type == WITHDRAWAL_CODE]
