"""``Viewer.institution``: the lender's (or school's) own view for its staff and admins.

Everything under it is scoped to the caller's institution: the type is only ever built for
staff of that institution (``institution_of``, ``institution_node``), and each connection
reads with that institution's id, never one from the request.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.types import Info

from puente.accounts.models import User as UserModel
from puente.enums import ProviderEventStatus
from puente.graphql.compliance import AmlAlertConnection, aml_alert_connection
from puente.graphql.connections import (
    LoanFilter,
    PaymentFilter,
    loan_connection,
    payment_connection,
)
from puente.graphql.paging import checked_request, cursor, empty_page, fetch_page, page_info
from puente.graphql.payment_types import PaymentConnection, Provider
from puente.graphql.reconciliation import OPEN_QUEUE, StatementLineConnection, line_connection
from puente.graphql.types import (
    Count,
    LoanConnection,
    Node,
    PageInfo,
    encode_global_id,
    no_rows,
)
from puente.institutions.models import Institution as InstitutionModel
from puente.loans.access import is_staff
from puente.loans.models import Loan as LoanModel
from puente.payments.models import Payment as PaymentModel
from puente.webhooks import health
from puente.webhooks.models import ProviderEvent

__all__ = ["Institution", "ProviderHealth", "institution_node", "institution_of"]


@strawberry.enum(description="Where a webhook delivery stands in the inbox.")
class WebhookEventStatus(Enum):
    RECEIVED = "received"
    PROCESSED = "processed"
    FAILED = "failed"
    DEAD = "dead"
    IGNORED = "ignored"
    EXCEPTION = "exception"


@strawberry.type(description="A webhook delivery as the inbox stored it (never its body).")
class WebhookEvent(Node):
    provider: Provider | None
    event_type: str
    status: WebhookEventStatus
    attempts: int
    last_error: str | None
    received_at: datetime
    processed_at: datetime | None

    @classmethod
    def from_model(cls, row: ProviderEvent) -> WebhookEvent:
        name = str(getattr(row.provider, "value", row.provider))
        return cls(
            id=encode_global_id("WebhookEvent", row.id),
            provider=Provider(name) if name in Provider._value2member_map_ else None,
            event_type=row.event_type,
            status=WebhookEventStatus(str(getattr(row.status, "value", row.status))),
            attempts=row.attempts,
            last_error=row.last_error,
            received_at=row.received_at,
            processed_at=row.processed_at,
        )


@strawberry.type
class WebhookEventEdge:
    cursor: str
    node: WebhookEvent


@strawberry.type
class WebhookEventConnection:
    edges: list[WebhookEventEdge]
    page_info: PageInfo
    _count: strawberry.Private[Count] = no_rows

    @strawberry.field(description="All events the connection spans (counted only when asked).")
    async def total_count(self) -> int:
        return await self._count()


@strawberry.enum(description="A circuit breaker's state (providers/circuit.py).")
class CircuitState(Enum):
    CLOSED = "closed"  # calls flow
    OPEN = "open"  # calls are cut off after repeated failures
    HALF_OPEN = "half_open"  # one trial call decides


@strawberry.type(description="A provider's health for this institution.")
class ProviderHealth:
    provider: Provider
    state: str = strawberry.field(description="Circuit breaker: CLOSED, OPEN or HALF_OPEN.")
    circuit: CircuitState = strawberry.field(description="The same state, as an enum.")
    error_rate: Decimal | None = strawberry.field(
        description="Failed attempts / attempts since the process started (0.0250 = 2.5 %)."
    )
    p95_latency_ms: int | None = strawberry.field(
        description="95th percentile latency of calls, as the histogram bucket bound."
    )
    last_webhook_at: datetime | None


@strawberry.type(description="The caller's institution (staff and admins only).")
class Institution(Node):
    name: str
    _model: strawberry.Private[InstitutionModel]

    @strawberry.field(description="The institution's loans, oldest first.")
    async def loans(
        self,
        info: Info,
        filter: LoanFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> LoanConnection:
        query = LoanModel.filter(institution_id=self._model.id)
        return await loan_connection(info, query, first, after, last, before, filter)

    @strawberry.field(description="The institution's payments, newest first.")
    async def payments(
        self,
        info: Info,
        filter: PaymentFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> PaymentConnection:
        query = PaymentModel.filter(institution_id=self._model.id)
        return await payment_connection(info, query, filter, first, after, last, before)

    @strawberry.field(description="Circuit state, error rate, latency, last webhook.")
    async def provider_health(self) -> list[ProviderHealth]:
        rows = await health.provider_health(self._model)
        return [
            ProviderHealth(
                provider=Provider(row.provider),
                state=row.state.name,
                circuit=CircuitState[row.state.name],
                error_rate=row.error_rate,
                p95_latency_ms=row.p95_latency_ms,
                last_webhook_at=row.last_webhook_at,
            )
            for row in rows
            if row.provider in Provider._value2member_map_
        ]

    @strawberry.field(description="Statement lines whose exception is open (the queue).")
    async def reconciliation_exceptions(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> StatementLineConnection:
        return await line_connection(info, self._model.id, OPEN_QUEUE, first, after, last, before)

    @strawberry.field(description="AML alerts, newest first.")
    async def aml_alerts(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> AmlAlertConnection:
        return await aml_alert_connection(info, self._model.id, first, after, last, before)

    @strawberry.field(description="Webhook deliveries, newest first (e.g. status: [DEAD]).")
    async def webhook_events(
        self,
        info: Info,
        status: list[WebhookEventStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> WebhookEventConnection:
        request = checked_request(info, first, after, last, before)
        if request is None:
            return WebhookEventConnection(edges=[], page_info=empty_page())
        query = ProviderEvent.filter(institution_id=self._model.id)
        if status:
            query = query.filter(status__in=[ProviderEventStatus(s.value) for s in status])
        page = await fetch_page(query, request, newest_first=True)
        return WebhookEventConnection(
            edges=[
                WebhookEventEdge(cursor=cursor(row.id), node=WebhookEvent.from_model(row))
                for row in page.rows
            ],
            page_info=page_info(page.rows, page.has_next, page.has_previous),
            _count=query.count,
        )

    @classmethod
    def from_model(cls, row: InstitutionModel) -> Institution:
        return cls(id=encode_global_id("Institution", row.id), name=row.name, _model=row)


async def institution_of(info: Info, user: UserModel) -> Institution | None:
    """The user's institution if they are its staff or admin, else None."""
    if not is_staff(user):
        return None
    row = await info.context.loaders.institutions.load(user.institution_id)
    return Institution.from_model(row) if row is not None else None


async def institution_node(info: Info, user: UserModel, pk: int) -> Institution | None:
    """``node(id)`` for an institution: only its own staff get it (anyone else: null)."""
    if pk != user.institution_id:
        return None
    return await institution_of(info, user)
