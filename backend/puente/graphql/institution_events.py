"""``institutionEvents``: the live feed of an institution's dashboards.

Payments, disbursements, webhook outcomes and exceptions as the services publish them on
the institution's channel (``payments.change_notices.notify_institution``), through the same
bus as every subscription (in process, or fanned out through Redis). Only MFA-enrolled staff
and admins of that institution subscribe (``IsAuthenticated`` refuses staff still owing
enrolment; anyone else is refused here), and each stream hears its own institution only.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from puente.events.fanout import reload_once
from puente.graphql.errors import UserFacingError
from puente.graphql.payment_types import Payment
from puente.graphql.payments import subscriber, while_subscribed
from puente.graphql.permissions import IsAuthenticated, allow, refused_stream
from puente.graphql.types import Loan, encode_global_id
from puente.loans.access import is_staff
from puente.loans.models import Loan as LoanModel
from puente.loans.state import load_loan_views
from puente.payments.change_notices import institution_channel
from puente.payments.models import Payment as PaymentModel
from puente.runtime import Runtime

__all__ = ["InstitutionEvent", "InstitutionSubscription"]


@strawberry.type(description="Something that happened at the institution, as it happened.")
class InstitutionEvent:
    kind: str = strawberry.field(
        description="payment.<status> (payment.paid, payment.failed …), disbursement."
        "requested|settled|returned, webhook.processed|failed|dead|exception, "
        "exception.<reason>."
    )
    occurred_at: datetime
    payment: Payment | None
    loan: Loan | None
    subject_id: strawberry.ID | None = strawberry.field(
        description="The webhook event or disbursement the kind names, when it is one."
    )


async def _event(runtime: Runtime, institution_id: int, notice: Mapping[str, Any]) -> Any:
    """The event a notice announces, its payment and loan reloaded (and kept in scope)."""
    payment = None
    if notice.get("payment"):
        row = await PaymentModel.filter(id=notice["payment"], institution_id=institution_id).first()
        payment = Payment.from_model(row) if row else None
    loan = None
    if notice.get("loan"):
        found = await LoanModel.filter(id=notice["loan"], institution_id=institution_id).first()
        if found is not None:
            (view,) = await load_loan_views([found], runtime.today())
            loan = Loan.from_view(view)
    kind = str(notice.get("kind", ""))
    subject = notice.get("subject")
    type_name = "Disbursement" if kind.startswith("disbursement.") else "WebhookEvent"
    return InstitutionEvent(
        kind=kind,
        occurred_at=datetime.fromisoformat(notice["at"]) if notice.get("at") else runtime.now(),
        payment=payment,
        loan=loan,
        subject_id=encode_global_id(type_name, int(subject)) if subject else None,
    )


@strawberry.type
class InstitutionSubscription:
    @strawberry.subscription(
        description="Staff and admins (MFA enrolled): their institution's payments, "
        "disbursements, webhook outcomes and exceptions as they happen.",
        extensions=allow(IsAuthenticated(answer=refused_stream)),
    )
    async def institution_events(self, info: Info) -> AsyncGenerator[InstitutionEvent, None]:
        user, session = await subscriber(info)
        if not is_staff(user):
            raise UserFacingError("FORBIDDEN", "Solo el personal de la institución.")
        runtime: Runtime = info.context.runtime
        institution_id = user.institution_id
        async with runtime.bus.subscribe(institution_channel(institution_id)) as notices:
            async for notice in while_subscribed(info, session, notices):
                if not notice.get("kind"):
                    continue  # a resync after a lost bus: nothing to show
                yield await reload_once(
                    notice,
                    ("institution-event", institution_id),
                    lambda n=notice: _event(runtime, institution_id, n),
                )
