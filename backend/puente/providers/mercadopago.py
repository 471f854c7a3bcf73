"""Mercado Pago connector (México): the Payments API for cards, OXXO and SPEI.

``https://api.mercadopago.com`` with ``Authorization: Bearer <access_token>``, JSON bodies,
amounts as decimal numbers in pesos and an ``X-Idempotency-Key`` on every POST, as the
official SDKs send. A declined card is still a created payment (HTTP 201, ``status``
``rejected``): we raise the decline with that payment attached. Webhook notifications only
name an object; ``resolve_event`` fetches it to learn what happened. Reconciliation reads the
payments search (balance lines) and the releases report (withdrawals to the bank).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from puente.money import parse_amount
from puente.providers import values
from puente.providers.base import (
    EventKind,
    InvalidRequest,
    MalformedResponse,
    PaymentGateway,
    PaymentStatus,
    ProviderConfig,
    ProviderUnavailable,
    reading_response,
)
from puente.providers.catalogue import MERCADOPAGO
from puente.providers.errors import declined_on_creation
from puente.providers.mercadopago_mapping import (
    DEFAULT_CLABE_PATH,
    decline_class,
    json_number,
    mp_card,
    mp_customer,
    mp_datetime,
    mp_error,
    mp_payment,
    mp_refund,
    mp_settlements_from_report,
    mp_transactions,
)
from puente.providers.mercadopago_webhooks import (
    RESOLVABLE_TOPICS,
    resolved_payment_event,
    verify_mercadopago_signature,
)
from puente.providers.paging import collect_pages

__all__ = ["MercadoPagoConnector"]

MEXICO_CITY = ZoneInfo("America/Mexico_City")
# Fields the Card Payment Brick hands the server next to the token; sent top-level, not as
# metadata, when the frontend passes them in ``ChargeRequest.metadata``.
_BRICK_FIELDS = ("payment_method_id", "issuer_id", "installments", "payer_email")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class MercadoPagoConnector(PaymentGateway):
    """Mercado Pago over its v1 REST API."""

    spec = MERCADOPAGO
    default_base_url = "https://api.mercadopago.com"
    idempotency_header = "X-Idempotency-Key"
    page_size = 100
    json_decimals = True  # amounts are JSON numbers
    parse_error = staticmethod(mp_error)
    webhook_verifier = verify_mercadopago_signature  # payment kinds: ``resolve_event``

    def __init__(
        self,
        config: ProviderConfig,
        *,
        clabe_path: str = DEFAULT_CLABE_PATH,
        cash_method_id: str = "oxxo",
        notification_url: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.clabe_path = clabe_path  # UNCONFIRMED location of the SPEI CLABE; see mapping
        self.cash_method_id = cash_method_id  # "oxxo", or "paycash" for other stores
        self.notification_url = notification_url  # None: the URL set in "Tus integraciones"
        super().__init__(config, **kwargs)

    def default_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.credential('access_token')}",
            "Accept": "application/json",
        }

    def _payment(self, body: Any) -> values.ProviderPayment:
        if not isinstance(body, Mapping):
            raise MalformedResponse("payment answer is not an object", provider=self.name)
        return mp_payment(body, clabe_path=self.clabe_path)

    def _raise_if_rejected(self, payment: values.ProviderPayment) -> values.ProviderPayment:
        if payment.status is PaymentStatus.FAILED:
            cls = decline_class(payment.provider_failure_code)
            raise declined_on_creation(cls, payment.failure_message or "Payment rejected.", payment)
        return payment

    async def _create_payment(self, body: dict[str, Any], key: str) -> values.ProviderPayment:
        if self.notification_url:
            body["notification_url"] = self.notification_url
        answer = await self.call("POST", "/v1/payments", body, idempotency_key=key)
        return self._payment(answer)

    # -- customers and cards ----------------------------------------------------------------
    async def create_customer(
        self, customer: values.CustomerInfo, *, idempotency_key: str
    ) -> values.ProviderCustomer:
        first, _, last = customer.name.strip().partition(" ")
        body: dict[str, Any] = {"email": customer.email, "first_name": first or None}
        if last:
            body["last_name"] = last
        if customer.external_id:
            body["description"] = customer.external_id  # customers take no metadata
        answer = await self.call(
            "POST",
            "/v1/customers",
            {k: v for k, v in body.items() if v is not None},
            idempotency_key=idempotency_key,
        )
        return mp_customer(answer)

    async def save_payment_method(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> values.SavedPaymentMethod:
        answer = await self.call(
            "POST",
            f"/v1/customers/{customer_id}/cards",
            {"token": token},
            idempotency_key=idempotency_key,
        )
        return mp_card(answer)

    # -- payments ---------------------------------------------------------------------------
    def _card_body(self, request: values.ChargeRequest) -> dict[str, Any]:
        metadata = {k: v for k, v in request.metadata.items() if k not in _BRICK_FIELDS}
        body: dict[str, Any] = {
            "transaction_amount": json_number(request.amount),
            "description": request.description or None,
            "installments": int(request.metadata.get("installments", "1")),
            "external_reference": request.idempotency_key,
            "metadata": metadata or None,
        }
        for field in ("payment_method_id", "issuer_id"):
            if request.metadata.get(field):
                body[field] = request.metadata[field]
        if request.metadata.get("payer_email"):
            body["payer"] = {"email": request.metadata["payer_email"]}
        return body

    async def charge(self, request: values.ChargeRequest) -> values.ProviderPayment:
        body = self._card_body(request)
        if request.token:
            body["token"] = request.token
        else:
            # Mercado Pago charges a saved card with a fresh token made from the card id.
            if not request.customer_id:
                raise InvalidRequest(
                    "Mercado Pago charges a saved card through its customer_id",
                    provider=self.name,
                )
            card = await self.call(
                "GET", f"/v1/customers/{request.customer_id}/cards/{request.payment_method_id}"
            )
            token = await self.call(
                "POST",
                "/v1/card_tokens",
                {"card_id": request.payment_method_id, "customer_id": request.customer_id},
                idempotency_key=f"{request.idempotency_key}:token",
            )
            with reading_response(self.name, "card token"):
                body["token"] = token["id"]
                body.setdefault("payment_method_id", card["payment_method"]["id"])
            body["payer"] = {"type": "customer", "id": request.customer_id}
        body = {k: v for k, v in body.items() if v is not None}
        payment = await self._create_payment(body, request.idempotency_key)
        return self._raise_if_rejected(payment)

    async def _payer(self, request: values.ReferenceRequest) -> dict[str, Any]:
        customer = request.customer
        if customer is None and request.customer_id:
            found = mp_customer(await self.call("GET", f"/v1/customers/{request.customer_id}"))
            customer = values.CustomerInfo(name=found.name or "", email=found.email)
        if customer is None or not customer.email:
            # The voucher and the SPEI instructions are sent to the payer's email.
            raise InvalidRequest("Mercado Pago needs the payer's email", provider=self.name)
        first, _, last = customer.name.strip().partition(" ")
        payer = {"email": customer.email, "first_name": first or None, "last_name": last or None}
        return {k: v for k, v in payer.items() if v}

    async def _reference(
        self, request: values.ReferenceRequest, method_id: str
    ) -> values.ProviderPayment:
        body: dict[str, Any] = {
            "transaction_amount": json_number(request.amount),
            "description": request.description or None,
            "payment_method_id": method_id,
            "payer": await self._payer(request),
            "external_reference": request.idempotency_key,
            "metadata": dict(request.metadata) or None,
        }
        if request.expires_after_days:
            local = datetime.now(MEXICO_CITY) + timedelta(days=request.expires_after_days)
            end = local.replace(hour=23, minute=59, second=59, microsecond=0)
            body["date_of_expiration"] = end.isoformat(timespec="milliseconds")
        body = {k: v for k, v in body.items() if v is not None}
        return await self._create_payment(body, request.idempotency_key)

    async def create_spei_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        return await self._reference(request, "clabe")

    async def create_cash_reference(
        self, request: values.ReferenceRequest
    ) -> values.ProviderPayment:
        return await self._reference(request, self.cash_method_id)

    async def get_payment(self, provider_id: str) -> values.ProviderPayment:
        return self._payment(await self.call("GET", f"/v1/payments/{provider_id}"))

    async def send_refund(self, request: values.RefundRequest) -> values.ProviderRefund:
        # Mercado Pago refunds take no reason; an empty body refunds what is left.
        amount, payment_id = request.amount, request.provider_id
        body = {"amount": json_number(amount)} if amount is not None else {}
        path = f"/v1/payments/{payment_id}/refunds"
        key = request.idempotency_key
        answer = await self.call("POST", path, body, idempotency_key=key, expect_object=True)
        return mp_refund(answer, payment_id)

    # -- reconciliation ---------------------------------------------------------------------
    async def list_transactions(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderTransaction]:
        end = until or datetime.now(UTC)
        if since > end:
            return []
        # Refunds change a payment's date_last_updated, so that range finds old payments
        # refunded inside the window too; lines are then filtered by their own dates.
        params = {
            "sort": "date_created",
            "criteria": "asc",
            "range": "date_last_updated",
            "begin_date": _iso(since),
            "end_date": _iso(end + timedelta(seconds=1)),
            "limit": str(min(self.page_size, 1000)),
        }

        async def page(offset: int) -> tuple[list[Mapping[str, Any]], int | None]:
            body = await self.call(
                "GET", "/v1/payments/search", params={**params, "offset": str(offset)}
            )
            with reading_response(self.name, "payments search page"):
                results = list(body["results"])
                offset += len(results)
                done = not results or offset >= int(body["paging"]["total"])
            return results, None if done else offset

        payments = await collect_pages(page, 0)
        lines = [line for payment in payments for line in mp_transactions(payment)]
        # Collections before refunds when two share a timestamp; then oldest first (stable).
        lines.sort(key=lambda line: line.type == "refund")
        lines.sort(key=lambda line: line.created_at)
        return [line for line in lines if since <= line.created_at <= end]

    async def list_settlements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[values.ProviderSettlement]:
        """Withdrawals to the bank, read from a releases report Mercado Pago generates.

        Reports are built asynchronously: when the file is not ready yet this raises a
        retryable ``ProviderUnavailable`` with ``retry_after`` for the job to come back.
        """
        end = until or datetime.now(UTC)
        if since > end:
            return []
        begin_text, end_text = _iso(since), _iso(end + timedelta(seconds=1))
        await self.call(
            "POST",
            "/v1/account/release_report",
            {"begin_date": begin_text, "end_date": end_text},
            idempotent=True,  # asking twice for the same report is harmless
        )
        listing = await self.call("GET", "/v1/account/release_report/list")
        wanted = (mp_datetime(begin_text), mp_datetime(end_text))
        with reading_response(self.name, "releases report list"):
            files = [
                item["file_name"]
                for item in listing
                if item.get("file_name")
                and (mp_datetime(item.get("begin_date")), mp_datetime(item.get("end_date")))
                == wanted
            ]
        if not files:
            raise ProviderUnavailable(
                "the releases report is still being prepared",
                provider=self.name,
                retryable=True,
                retry_after=60.0,
            )
        response = await self.http.request("GET", f"/v1/account/release_report/{files[-1]}")
        found = mp_settlements_from_report(response.text)
        return [s for s in found if since <= s.created_at <= end]

    # -- webhooks ---------------------------------------------------------------------------
    def _log_event(self, event: values.NormalisedEvent) -> values.NormalisedEvent:
        if event.raw.get("type") in RESOLVABLE_TOPICS:
            return event  # not unknown: resolve_event will say what it is
        return super()._log_event(event)

    async def resolve_event(self, event: values.NormalisedEvent) -> values.NormalisedEvent:
        """Fetch the object a verified notification names and give the event its kind."""
        topic = event.raw.get("type")
        data = event.raw.get("data")
        object_id = data.get("id") if isinstance(data, Mapping) else None
        if topic == "payment" and object_id:
            return resolved_payment_event(event, await self.get_payment(str(object_id)))
        if topic == "chargebacks" and object_id:
            chargeback = await self.call("GET", f"/v1/chargebacks/{object_id}")
            with reading_response(self.name, "chargeback"):
                payments = [str(p) for p in chargeback.get("payments") or []]
                amount = chargeback.get("amount")
            return replace(
                event,
                kind=EventKind.CHARGEBACK,
                provider_payment_id=payments[0] if payments else None,
                amount=parse_amount(amount) if amount is not None else None,
            )
        return event
