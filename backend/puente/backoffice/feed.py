"""The console's live feed: the latest payments, payouts and webhook events of one institution.

The feed is read from the database every time (the bus only says *that* something changed),
so a lost notice never hides an event, it only shows it a moment later.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from puente.enums import PaymentMethodType
from puente.money import from_centavos
from puente.payments.models import Disbursement, Payment
from puente.providers.registry import available_providers
from puente.webhooks.models import ProviderEvent

__all__ = [
    "DISBURSEMENT_STATUS",
    "FEED_KINDS",
    "WEBHOOK_STATUS",
    "FeedFilter",
    "FeedItem",
    "parse_feed_filter",
    "recent_feed",
]

FEED_KINDS = {"pago": "Pagos", "dispersion": "Dispersiones", "webhook": "Webhooks"}
WEBHOOK_STATUS = {
    "received": "Recibido",
    "processed": "Procesado",
    "failed": "Fallido",
    "dead": "Detenido",
    "ignored": "Sin efecto",
    "exception": "Excepción",
}
DISBURSEMENT_STATUS = {
    "pending": "Por enviar",
    "sent": "Enviada",
    "settled": "Liquidada",
    "returned": "Devuelta",
    "failed": "Rechazada",
}


@dataclass(frozen=True, slots=True)
class FeedFilter:
    kind: str = ""  # "", or a key of FEED_KINDS
    method: PaymentMethodType | None = None
    provider: str | None = None  # a registered provider's name (plug-ins too)

    def as_query(self) -> dict[str, str]:
        return {
            "tipo": self.kind,
            "metodo": self.method.value if self.method else "",
            "proveedor": str(self.provider) if self.provider else "",
        }


@dataclass(frozen=True, slots=True)
class FeedItem:
    kind: str  # pago | dispersion | webhook
    at: datetime
    status: str
    provider: str
    method: str | None = None
    amount: Decimal | None = None
    payment_id: int | None = None
    loan_id: int | None = None
    event_id: int | None = None
    detail: str = ""


def parse_feed_filter(query: Mapping[str, str]) -> tuple[FeedFilter, str | None]:
    """The filter from ``?tipo=&metodo=&proveedor=``; bad values: no filter and a message."""
    kind = query.get("tipo", "")[:20]
    method = query.get("metodo", "")[:20]
    provider = query.get("proveedor", "")[:20]
    if kind and kind not in FEED_KINDS:
        return FeedFilter(), "Tipo de evento desconocido; se muestran todos."
    if method and method not in PaymentMethodType._value2member_map_:
        return FeedFilter(), "Método de pago desconocido; se muestran todos."
    if provider and provider not in available_providers():
        return FeedFilter(), "Proveedor desconocido; se muestran todos."
    return (
        FeedFilter(
            kind=kind,
            method=PaymentMethodType(method) if method else None,
            provider=provider or None,
        ),
        None,
    )


async def recent_feed(institution_id: int, wanted: FeedFilter, limit: int = 40) -> list[FeedItem]:
    """The ``limit`` latest events of the institution that ``wanted`` lets through, newest first."""
    items: list[FeedItem] = []
    if wanted.kind in ("", "pago"):
        payments = Payment.filter(institution_id=institution_id)
        if wanted.method is not None:
            payments = payments.filter(method=wanted.method)
        if wanted.provider is not None:
            payments = payments.filter(provider=wanted.provider)
        for p in await payments.order_by("-updated_at", "-id").limit(limit):
            items.append(
                FeedItem(
                    kind="pago",
                    at=p.updated_at,
                    status=str(p.status),
                    provider=str(p.provider),
                    method=str(p.method),
                    amount=from_centavos(p.amount_centavos),
                    payment_id=p.id,
                    loan_id=p.loan_id,
                )
            )
    if wanted.kind in ("", "dispersion") and wanted.method in (None, PaymentMethodType.SPEI):
        payouts = Disbursement.filter(institution_id=institution_id)
        if wanted.provider is not None:
            payouts = payouts.filter(provider=wanted.provider)
        for d in await payouts.order_by("-updated_at", "-id").limit(limit):
            items.append(
                FeedItem(
                    kind="dispersion",
                    at=d.updated_at,
                    status=str(d.status),
                    provider=str(d.provider),
                    method=PaymentMethodType.SPEI.value,
                    amount=from_centavos(d.amount_centavos),
                    loan_id=d.loan_id,
                    detail=d.clave_rastreo,
                )
            )
    if wanted.kind in ("", "webhook") and wanted.method is None:
        events = ProviderEvent.filter(institution_id=institution_id)
        if wanted.provider is not None:
            events = events.filter(provider=wanted.provider)
        for e in await events.order_by("-id").limit(limit):
            items.append(
                FeedItem(
                    kind="webhook",
                    at=e.processed_at or e.received_at,
                    status=str(e.status),
                    provider=str(e.provider),
                    amount=from_centavos(e.amount_centavos)
                    if e.amount_centavos is not None
                    else None,
                    event_id=e.id,
                    detail=e.event_type,
                )
            )
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]
