"""Stripe connector: PaymentIntents for card, OXXO and SPEI (customer_balance/mx_bank_transfer).

Stripe's v1 API takes form-encoded bodies with bracket keys, amounts in integer centavos and
currency ``mxn``; every POST carries an ``Idempotency-Key`` so a retried request can never
charge twice. We pin ``Stripe-Version`` so response shapes do not move under us when the
account's default version changes. Reading Stripe's objects lives in ``stripe_mapping.py``,
webhook signatures in ``stripe_webhooks.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx

from puente.money import to_centavos
from puente.providers import values
from puente.providers.base import InvalidRequest, PaymentGateway, reading_response
from puente.providers.catalogue import STRIPE
from puente.providers.forms import encode_form
from puente.providers.paging import collect_pages
from puente.providers.stripe_mapping import (
    stripe_customer,
    stripe_error,
    stripe_payment,
    stripe_payment_method,
    stripe_refund,
    stripe_settlement,
    stripe_transaction,
)
from puente.providers.stripe_webhooks import verify_stripe_signature

__all__ = ["STRIPE_API_VERSION", "StripeConnector"]

STRIPE_API_VERSION = "2024-06-20"
_REFUND_REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def _created(since: datetime, until: datetime | None) -> dict[str, Any]:
    created = {"gte": int(since.timestamp())}
    if until is not None:
        created["lte"] = int(until.timestamp())
    return {"created": created}


class StripeConnector(PaymentGateway):
    """Stripe over its v1 REST API."""

    spec = STRIPE
    default_base_url = "https://api.stripe.com"
    idempotency_header = "Idempotency-Key"
    parse_error = staticmethod(stripe_error)
    webhook_verifier = verify_stripe_signature

    def default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.credential('secret_key')}",
            "Stripe-Version": STRIPE_API_VERSION,
        }

    def retry_hint(self, response: httpx.Response) -> bool | None:
        hint = response.headers.get("Stripe-Should-Retry")
        if hint in ("true", "false"):
            return hint == "true"
        # 409: a request with the same idempotency key is still running (the SDK retries it).
        return True if response.status_code == 409 else None

    async def _call(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        pairs = encode_form(params or {})
        if method == "GET":
            return await self.call(method, path, params=pairs, expect_object=True)
        return await self.call(
            method, path, form=pairs, idempotency_key=idempotency_key, expect_object=True
        )

    async def _list_all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        params = {**params, "limit": min(self.page_size, 100)}

        async def page(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            query = params if after is None else {**params, "starting_after": after}
            body = await self._call("GET", path, query)
            with reading_response(self.name, f"{path} page"):
                data = list(body["data"])
                return data, data[-1]["id"] if body.get("has_more") and data else None

        items = await collect_pages(page, None)
        items.reverse()  # Stripe lists newest first; reconciliation reads oldest first
        return items

    async def create_customer(
        self, customer: values.CustomerInfo, *, idempotency_key: str
    ) -> values.ProviderCustomer:
        params = {
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "metadata": customer.provider_metadata(),
        }
        body = await self._call("POST", "/v1/customers", params, idempotency_key=idempotency_key)
        return stripe_customer(body)

    async def save_payment_method(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> values.SavedPaymentMethod:
        pm_id = token
        if not token.startswith("pm_"):
            created = await self._call(
                "POST",
                "/v1/payment_methods",
                {"type": "card", "card": {"token": token}},
                idempotency_key=f"{idempotency_key}:create",
            )
            with reading_response(self.name, "payment method"):
                pm_id = created["id"]
        body = await self._call(
            "POST",
            f"/v1/payment_methods/{pm_id}/attach",
            {"customer": customer_id},
            idempotency_key=f"{idempotency_key}:attach",
        )
        return stripe_payment_method(body)

    async def _create_intent(self, params: dict[str, Any], key: str) -> values.ProviderPayment:
        params = {"currency": "mxn", "confirm": True, **params, "expand": ["latest_charge"]}
        body = await self._call("POST", "/v1/payment_intents", params, idempotency_key=key)
        return stripe_payment(body)

    async def charge(self, request: values.ChargeRequest) -> values.ProviderPayment:
        params: dict[str, Any] = {
            "amount": to_centavos(request.amount),
            "payment_method_types": ["card"],
            "customer": request.customer_id,
            "description": request.description or None,
            "metadata": dict(request.metadata),
            "return_url": request.return_url,
        }
        if request.token:
            params["payment_method_data"] = {"type": "card", "card": {"token": request.token}}
        else:
            params["payment_method"] = request.payment_method_id
            # A saved card charged with the payer absent (an instalment falling due).
            params["off_session"] = True if request.customer_id else None
        return await self._create_intent(params, request.idempotency_key)

    async def _customer_for(self, request: values.ReferenceRequest) -> str:
        if request.customer_id:
            return request.customer_id
        if request.customer is None:
            raise InvalidRequest(
                "Stripe SPEI needs a customer (customer_id or customer)", provider=self.name
            )
        created = await self.create_customer(
            request.customer, idempotency_key=f"{request.idempotency_key}:customer"
        )
        return created.provider_id

    async def create_spei_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        # Stripe gives each customer a virtual CLABE; the PaymentIntent is funded from the
        # customer's cash balance when the transfer lands (any surplus stays in that balance).
        customer = await self._customer_for(request)
        bank_transfer = {
            "funding_type": "bank_transfer",
            "bank_transfer": {"type": "mx_bank_transfer"},
        }
        params = {
            "amount": to_centavos(request.amount),
            "customer": customer,
            "payment_method_types": ["customer_balance"],
            "payment_method_data": {"type": "customer_balance"},
            "payment_method_options": {"customer_balance": bank_transfer},
            "description": request.description or None,
            "metadata": dict(request.metadata),
        }
        return await self._create_intent(params, request.idempotency_key)

    async def create_cash_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        payer = request.customer
        if payer is None and request.customer_id:
            body = await self._call("GET", f"/v1/customers/{request.customer_id}")
            payer = values.CustomerInfo(name=body.get("name") or "", email=body.get("email"))
        if payer is None or not payer.name or not payer.email:
            # Stripe refuses OXXO without billing name and email (they go on the voucher).
            raise InvalidRequest("OXXO needs the payer's name and email", provider=self.name)
        params = {
            "amount": to_centavos(request.amount),
            "customer": request.customer_id,
            "payment_method_types": ["oxxo"],
            "payment_method_data": {
                "type": "oxxo",
                "billing_details": {"name": payer.name, "email": payer.email},
            },
            "payment_method_options": {"oxxo": {"expires_after_days": request.expires_after_days}},
            "description": request.description or None,
            "metadata": dict(request.metadata),
        }
        return await self._create_intent(params, request.idempotency_key)

    async def get_payment(self, provider_id: str) -> values.ProviderPayment:
        body = await self._call(
            "GET", f"/v1/payment_intents/{provider_id}", {"expand": ["latest_charge"]}
        )
        return stripe_payment(body)

    async def send_refund(self, request: values.RefundRequest) -> values.ProviderRefund:
        amount, reason = request.amount, request.reason
        params: dict[str, Any] = {
            "payment_intent": request.provider_id,
            "amount": to_centavos(amount) if amount is not None else None,
        }
        if reason in _REFUND_REASONS:
            params["reason"] = reason
        elif reason:
            params["metadata"] = {"reason": reason}  # Stripe takes only its three reasons
        key = request.idempotency_key
        body = await self._call("POST", "/v1/refunds", params, idempotency_key=key)
        return stripe_refund(body, request.provider_id)

    async def list_transactions(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderTransaction]:
        items = await self._list_all("/v1/balance_transactions", _created(since, until))
        return [stripe_transaction(item) for item in items]

    async def list_settlement_transactions(
        self, payout_id: str
    ) -> list[values.ProviderTransaction]:
        """The balance lines one payout carried to the bank (Stripe's payout breakdown)."""
        # The charge expanded: its PaymentIntent is the payment Puente knows.
        query = {"payout": payout_id, "expand": ["data.source"]}
        items = await self._list_all("/v1/balance_transactions", query)
        return [stripe_transaction(item, payout_id) for item in items]

    async def list_settlements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderSettlement]:
        items = await self._list_all("/v1/payouts", _created(since, until))
        return [stripe_settlement(item) for item in items]
