"""Documents attached to a notice, rendered from the ledger when the message is sent."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from puente.config import Settings
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Loan
from puente.notifications.channels import Attachment
from puente.notifications.payment_notices import loan_name
from puente.notifications.service import store_notice
from puente.statements.data import parse_period, statement_data, statement_periods
from puente.statements.pdf import statement_pdf

__all__ = ["render_attachment", "send_statements"]

BATCH = 200


async def render_attachment(spec: dict[str, Any]) -> Attachment | None:
    """``{"kind": "statement", "loan_id", "period"}`` → the estado de cuenta PDF."""
    if spec.get("kind") != "statement":
        return None
    bounds = parse_period(str(spec.get("period", "")))
    loan = await Loan.get_or_none(id=int(spec.get("loan_id", 0)))
    if bounds is None or loan is None:
        return None
    data = await statement_data(loan, spec["period"], bounds[1] + timedelta(days=1))
    if data is None:
        return None
    return Attachment(f"estado-de-cuenta-{loan.id}-{spec['period']}.pdf", statement_pdf(data))


async def send_statements(day: date, settings: Settings) -> int:
    """Daily step: each open loan's latest estado de cuenta, once (a late run catches up)."""
    stored = 0
    last_id = 0
    while loans := (
        await Loan.filter(status__in=list(OPEN_STATUSES), id__gt=last_id)
        .order_by("id")
        .limit(BATCH)
        .prefetch_related("product")
    ):
        last_id = loans[-1].id
        for loan in loans:
            periods = statement_periods(loan, day)
            if not periods:
                continue
            period = periods[-1]
            data = await statement_data(loan, period, day)
            if data is None:
                continue
            rows = await store_notice(
                settings,
                kind="statement",
                user_id=loan.borrower_id,
                loan_id=loan.id,
                context={
                    "credito": loan_name(loan),
                    "credito_id": loan.id,
                    "periodo": period,
                    "corte": data.cut_date,
                    "limite": data.due_date,
                    "saldo": data.closing_balance,
                },
                dedupe_key=f"loan:{loan.id}:statement:{period}",
                attachments=[{"kind": "statement", "loan_id": loan.id, "period": period}],
            )
            stored += len(rows)
    return stored
