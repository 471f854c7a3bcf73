"""Conekta connector: orders API v2 for card, OXXO (cash) and SPEI, with RSA-signed webhooks.

Conekta takes JSON bodies, amounts in integer centavos, ``Authorization: Bearer <private key>``
and a versioned ``Accept: application/vnd.conekta-v2.2.0+json`` header (the version is a
constructor argument, so an account can move versions without a code change). Every POST
carries an ``Idempotency-Key`` (Conekta's OpenAPI header), so a retried order cannot charge
twice. Reading Conekta's objects lives in ``conekta_mapping.py``, webhook signatures in
``conekta_webhooks.py``.

Conekta requires ``customer_info`` (name, email, phone) on every order while ``ChargeRequest``
carries no payer: a charge uses ``customer_id`` when given, else ``payer_name``/``payer_email``/
``payer_phone`` from its metadata (not sent on as metadata), else ``default_payer``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from puente.money import to_centavos
from puente.providers import values
from puente.providers.base import PaymentGateway, PaymentStatus, ProviderConfig, reading_response
from puente.providers.catalogue import CONEKTA
from puente.providers.conekta_mapping import (
    conekta_customer,
    conekta_decline_class,
    conekta_error,
    conekta_payment,
    conekta_payment_source,
    conekta_refund,
    conekta_settlement,
    conekta_transaction,
)
from puente.providers.conekta_webhooks import (
    load_conekta_webhook_keys,
    verify_conekta_signature,
)
from puente.providers.paging import collect_pages

__all__ = ["CONEKTA_API_VERSION", "DEFAULT_PAYER", "REFUND_REASONS", "ConektaConnector"]

CONEKTA_API_VERSION = "2.2.0"
# Used when neither a customer nor payer details are known (set your institution's contact).
DEFAULT_PAYER = values.CustomerInfo(name="Puente", email="pagos@puente.invalid", phone="0000000000")
REFUND_REASONS = frozenset(
    {
        "requested_by_client",
        "cannot_be_fulfilled",
        "duplicated_transaction",
        "suspected_fraud",
        "other",
    }
)
_PAYER_KEYS = ("payer_name", "payer_email", "payer_phone")
_DEFAULT_DAYS = 3  # voucher / CLABE lifetime when the request does not say
_MAX_LIMIT = 250  # Conekta's page size ceiling


class ConektaConnector(PaymentGateway):
    """Conekta over its v2 REST API."""

    spec = CONEKTA
    default_base_url = "https://api.conekta.io"
    idempotency_header = "Idempotency-Key"
    answers_are_objects = True
    parse_error = staticmethod(conekta_error)
    webhook_verifier = verify_conekta_signature

    def __init__(
        self,
        config: ProviderConfig,
        *,
        api_version: str = CONEKTA_API_VERSION,
        accept_language: str | None = None,
        default_payer: values.CustomerInfo = DEFAULT_PAYER,
        wall_clock: Callable[[], float] | None = None,
        **kwargs: Any,
    ) -> None:
        self.api_version = api_version
        self.accept_language = accept_language
        self.default_payer = default_payer
        self._wall_clock = wall_clock or time.time
        super().__init__(config, **kwargs)
        # Parsed once: a broken key is a configuration error at start-up, not per webhook.
        self._webhook_keys = load_conekta_webhook_keys(self.credential("webhook_key"))

    def default_headers(self) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {self.credential('private_key')}",
            "Accept": f"application/vnd.conekta-v{self.api_version}+json",
        }
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        return headers

    def webhook_secrets(self) -> list[Any]:
        return self._webhook_keys

    async def _list_since(
        self, path: str, since: datetime, until: datetime | None
    ) -> list[dict[str, Any]]:
        # Conekta lists newest first with a ``next`` cursor and no date filter on these
        # endpoints: page back until the first item older than ``since``.
        start, end = int(since.timestamp()), int(until.timestamp()) if until else None
        params = {"limit": str(min(self.page_size, _MAX_LIMIT))}

        async def page(after: str | None) -> tuple[list[dict[str, Any]], str | None]:
            query = params if after is None else {**params, "next": after}
            body = await self.call("GET", path, params=query)
            with reading_response(self.name, f"{path} page"):
                data = list(body["data"])
                kept: list[dict[str, Any]] = []
                for item in data:
                    created = int(item["created_at"])
                    if created < start:
                        return kept, None  # older than the window: nothing further back counts
                    if end is None or created <= end:
                        kept.append(item)
                return kept, str(data[-1]["id"]) if body.get("has_more") and data else None

        items = await collect_pages(page, None)
        items.reverse()  # reconciliation reads oldest first
        return items

    # -- customers -----------------------------------------------------------------------------
    async def create_customer(
        self, customer: values.CustomerInfo, *, idempotency_key: str
    ) -> values.ProviderCustomer:
        body = {
            "name": customer.name,
            "email": customer.email or self.default_payer.email,
            "phone": customer.phone or self.default_payer.phone,
            "metadata": customer.provider_metadata(),
        }
        answer = await self.call("POST", "/customers", body, idempotency_key=idempotency_key)
        return conekta_customer(answer)

    async def save_payment_method(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> values.SavedPaymentMethod:
        answer = await self.call(
            "POST",
            f"/customers/{customer_id}/payment_sources",
            {"type": "card", "token_id": token},
            idempotency_key=idempotency_key,
        )
        return conekta_payment_source(answer)

    # -- payments ------------------------------------------------------------------------------
    def _customer_info(
        self, customer_id: str | None, payer: values.CustomerInfo | None
    ) -> dict[str, Any]:
        if customer_id:
            return {"customer_id": customer_id}
        payer = payer or self.default_payer
        return {
            "name": payer.name or self.default_payer.name,
            "email": payer.email or self.default_payer.email,
            "phone": payer.phone or self.default_payer.phone,
        }

    def _order(
        self,
        amount: Decimal,
        description: str,
        customer_info: Mapping[str, Any],
        payment_method: Mapping[str, Any],
        metadata: Mapping[str, str],
    ) -> dict[str, Any]:
        centavos = to_centavos(amount)
        return {
            "currency": "MXN",
            "customer_info": dict(customer_info),
            "line_items": [{"name": description or "Pago", "unit_price": centavos, "quantity": 1}],
            "charges": [{"payment_method": dict(payment_method)}],
            "metadata": dict(metadata),
        }

    async def _create_order(self, body: Mapping[str, Any], key: str) -> values.ProviderPayment:
        answer = await self.call("POST", "/orders", body, idempotency_key=key)
        payment = conekta_payment(answer)
        if payment.status is PaymentStatus.FAILED:  # declines normally come back as 402
            cls = conekta_decline_class(payment.provider_failure_code)
            raise cls(
                payment.failure_message or "the charge was declined",
                provider=self.name,
                provider_code=payment.provider_failure_code,
                payment=payment,
            )
        return payment

    async def charge(self, request: values.ChargeRequest) -> values.ProviderPayment:
        metadata = {k: v for k, v in request.metadata.items() if k not in _PAYER_KEYS}
        given = request.metadata
        payer = None
        if any(given.get(k) for k in _PAYER_KEYS):
            payer = values.CustomerInfo(
                name=given.get("payer_name") or "",
                email=given.get("payer_email"),
                phone=given.get("payer_phone"),
            )
        if request.token:
            method: dict[str, Any] = {"type": "card", "token_id": request.token}
        else:
            method = {"type": "card", "payment_source_id": request.payment_method_id}
        body = self._order(
            request.amount,
            request.description,
            self._customer_info(request.customer_id, payer),
            method,
            metadata,
        )
        return await self._create_order(body, request.idempotency_key)

    def _expires_at(self, request: values.ReferenceRequest) -> int:
        days = request.expires_after_days or _DEFAULT_DAYS
        return int(self._wall_clock()) + days * 86400

    async def _reference(
        self, request: values.ReferenceRequest, kind: str
    ) -> values.ProviderPayment:
        body = self._order(
            request.amount,
            request.description,
            self._customer_info(request.customer_id, request.customer),
            {"type": kind, "expires_at": self._expires_at(request)},
            request.metadata,
        )
        return await self._create_order(body, request.idempotency_key)

    async def create_spei_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        return await self._reference(request, "spei")

    async def create_cash_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        return await self._reference(request, "cash")

    async def get_payment(self, provider_id: str) -> values.ProviderPayment:
        return conekta_payment(await self.call("GET", f"/orders/{provider_id}"))

    async def send_refund(self, request: values.RefundRequest) -> values.ProviderRefund:
        amount = request.amount
        if amount is None:
            # Conekta requires an amount: refund whatever the order still holds.
            current = await self.get_payment(request.provider_id)
            amount = current.amount - current.amount_refunded
        body = {
            "amount": to_centavos(amount),
            "reason": request.reason if request.reason in REFUND_REASONS else "requested_by_client",
        }
        answer = await self.call(
            "POST",
            f"/orders/{request.provider_id}/refunds",
            body,
            idempotency_key=request.idempotency_key,
        )
        return conekta_refund(answer)

    # -- reconciliation ------------------------------------------------------------------------
    async def list_transactions(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderTransaction]:
        items = await self._list_since("/transactions", since, until)
        return [conekta_transaction(item) for item in items]

    async def list_settlements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderSettlement]:
        items = await self._list_since("/transfers", since, until)
        return [conekta_settlement(item) for item in items]

    # -- webhooks ------------------------------------------------------------------------------
    async def create_webhook_key(self, *, idempotency_key: str) -> str:
        """Create the account's webhook key pair; store the returned PEM as ``webhook_key``."""
        answer = await self.call(
            "POST", "/webhook_keys", {"active": True}, idempotency_key=idempotency_key
        )
        with reading_response(self.name, "webhook key"):
            return str(answer["public_key"])
