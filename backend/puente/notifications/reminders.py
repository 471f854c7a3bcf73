"""The daily job's notices: reminders 3 and 1 days before a due date, and overdue notices.

What is owed comes from the read model (``loans.state.load_loan_views``), the same centavos
the portal and GraphQL show. Dedupe keys name the installment and its due date, so running
the day twice (or the next day) never repeats a notice.
"""

from __future__ import annotations

from datetime import date

from puente.config import Settings
from puente.loans.lifecycle import OPEN_STATUSES
from puente.loans.models import Loan
from puente.loans.state import InstallmentStatus, load_loan_views
from puente.notifications.payment_notices import loan_name
from puente.notifications.service import store_notice

__all__ = ["REMINDER_DAYS", "remind_borrowers"]

REMINDER_DAYS = (3, 1)
BATCH = 200


async def remind_borrowers(day: date, settings: Settings) -> int:
    """Store the day's reminders and overdue notices (the outbox delivers them); how many."""
    stored = 0
    last_id = 0
    while True:
        loans = (
            await Loan.filter(status__in=list(OPEN_STATUSES), id__gt=last_id)
            .order_by("id")
            .limit(BATCH)
            .prefetch_related("product")
        )
        if not loans:
            return stored
        last_id = loans[-1].id
        for view in await load_loan_views(loans, day):
            loan = view.loan
            for row in view.installments:
                if row.outstanding <= 0:
                    continue
                days_left = (row.due_date - day).days
                base = {
                    "credito": loan_name(loan),
                    "credito_id": loan.id,
                    "numero": row.number,
                    "vence": row.due_date,
                    "monto": row.outstanding,
                }
                if days_left in REMINDER_DAYS:
                    kind, key, extra = "reminder", f"reminder:{days_left}d", {"dias": days_left}
                elif row.status is InstallmentStatus.OVERDUE:
                    kind, key, extra = "overdue", "overdue", {}
                else:
                    continue
                rows = await store_notice(
                    settings,
                    kind=kind,
                    user_id=loan.borrower_id,
                    loan_id=loan.id,
                    context=base | extra,
                    dedupe_key=f"loan:{loan.id}:n{row.number}:{row.due_date.isoformat()}:{key}",
                )
                stored += len(rows)
