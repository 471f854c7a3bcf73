"""Which payments a person may see, and the filtered history over them.

One rule for every door: the portal's payment history and GraphQL ``viewer.payments`` list
the same payments, those of the loans the person may see (``loans.access.can_see_loan``):
staff and admins every payment of their institution, anyone else the payments of the loans
they owe or study under, whoever paid them (a guardian's payment shows to the student too).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from tortoise.expressions import F, Q, Subquery
from tortoise.functions import Coalesce
from tortoise.queryset import QuerySet

from puente.accounts.models import User
from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.loans.access import is_staff, visible_loans
from puente.payments.models import Payment
from puente.runtime import MEXICO_CITY

__all__ = [
    "HistoryPage",
    "HistoryQuery",
    "filtered_payments",
    "local_day_start",
    "payment_history",
    "visible_payments",
    "with_pay_date",
]


def visible_payments(user: User) -> QuerySet[Payment]:
    """The payments ``user`` may see (the rule of ``can_see_loan``, as a query)."""
    query = Payment.filter(institution_id=user.institution_id)
    if is_staff(user):
        return query
    return query.filter(loan_id__in=Subquery(visible_loans(user).values("id")))


def local_day_start(day: date) -> datetime:
    """Midnight in Mexico City, as UTC: SQLite compares stored datetimes as text, so a bound
    written with a -06:00 offset would mis-order against UTC rows around midnight UTC."""
    return datetime.combine(day, time.min, tzinfo=MEXICO_CITY).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """What to show: statuses, a method, Mexico City calendar days (inclusive), one loan."""

    statuses: tuple[S, ...] = ()
    method: PaymentMethodType | None = None
    since: date | None = None
    until: date | None = None
    loan_id: int | None = None
    provider: str | None = None  # a registered provider's name
    search: str | None = None  # the provider's reference, or the payer's name or email


def with_pay_date(query: QuerySet[Payment]) -> QuerySet[Payment]:
    """``query`` with ``pay_date``: when it was paid, else when it was made.

    Its ``created_at`` is not qualified with the table (tortoise's ``F``), so a query with
    it cannot join another table that has one (a payment's loan): it is added only where a
    date filter or the order needs it.
    """
    return query.annotate(pay_date=Coalesce("paid_at", F("created_at")))


def filtered_payments(query: QuerySet[Payment], wanted: HistoryQuery) -> QuerySet[Payment]:
    """``query`` narrowed to ``wanted``; dates read the payment date (``pay_date``: when it
    was paid, else when it was made), Mexico City calendar days."""
    if wanted.since is not None or wanted.until is not None:
        query = with_pay_date(query)
    if wanted.statuses:
        query = query.filter(status__in=list(wanted.statuses))
    if wanted.method is not None:
        query = query.filter(method=wanted.method)
    if wanted.provider is not None:
        query = query.filter(provider=wanted.provider)
    if wanted.since is not None:
        query = query.filter(pay_date__gte=local_day_start(wanted.since))
    if wanted.until is not None:
        query = query.filter(pay_date__lt=local_day_start(wanted.until + timedelta(days=1)))
    if wanted.loan_id is not None:
        query = query.filter(loan_id=wanted.loan_id)
    if wanted.search and wanted.search.strip():
        term = wanted.search.strip()
        # A subquery, not a join: the join would make pay_date's "created_at" ambiguous.
        payers = User.filter(Q(full_name__icontains=term) | Q(email__icontains=term))
        query = query.filter(
            Q(provider_reference__icontains=term) | Q(user_id__in=Subquery(payers.values("id")))
        )
    return query


@dataclass(frozen=True, slots=True)
class HistoryPage:
    payments: list[Payment]
    total: int
    page: int  # the page shown: the one asked for, or the last one there is
    pages: int


async def payment_history(
    user: User, wanted: HistoryQuery, *, page: int, page_size: int
) -> HistoryPage:
    """One page of the payments ``user`` may see, by payment date, newest first.

    The payment date is when it was paid, else when it was made: an old
    payment recorded today (a late webhook, a migrated history) shows on the day it was paid.
    The date filters read the same date.
    """
    query = with_pay_date(filtered_payments(visible_payments(user), wanted))
    total = await query.count()
    pages = max(1, math.ceil(total / page_size))
    shown = max(1, min(page, pages))
    rows = (
        await query.order_by("-pay_date", "-id")
        .offset((shown - 1) * page_size)
        .limit(page_size)
        .prefetch_related("loan__product")
    )
    return HistoryPage(payments=list(rows), total=total, page=shown, pages=pages)
