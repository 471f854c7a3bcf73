"""The figures behind the console's charts, read from payments, payouts and the ledger.

Days are Mexico City days (the calendar loans are due on). Delinquency on a past day is
rebuilt from the ledger's dated postings, so the chart shows what the buckets were then,
not today's buckets drawn backwards.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from puente.enums import LoanStatus
from puente.enums import PaymentStatus as S
from puente.loans.activity import activity_rows, fold_activity
from puente.loans.engine import MEXICO_BANKS, DelinquencyBucket, bucket_for_days, days_past_due
from puente.loans.installments import installment_states
from puente.loans.models import Installment, Loan
from puente.loans.terms import contract_periods
from puente.money import ZERO, from_centavos
from puente.payments.models import Payment
from puente.runtime import mexico_city_date

__all__ = [
    "COLLECTED",
    "DailySeries",
    "collections_by_day",
    "delinquency_over_time",
    "disbursed_vs_collected",
    "last_days",
]

# A payment counts as collected once it was paid, whatever happened to it afterwards
# (a refund is a separate outgoing movement).
COLLECTED = (S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK)
# Loans whose days past due mean something on a past day (they were running then).
AGED = (
    LoanStatus.ACTIVE,
    LoanStatus.DEFAULTED,
    LoanStatus.RESTRUCTURED,
    LoanStatus.PAID_OFF,
    LoanStatus.WRITTEN_OFF,
)


@dataclass(frozen=True, slots=True)
class DailySeries:
    """Values per day for each named series (a method, a provider, a bucket)."""

    days: tuple[date, ...]
    series: dict[str, tuple[Decimal, ...]]


def last_days(today: date, count: int) -> tuple[date, ...]:
    return tuple(today - timedelta(days=count - 1 - i) for i in range(count))


def _series(days: tuple[date, ...], totals: dict[str, dict[date, Decimal]]) -> DailySeries:
    return DailySeries(
        days,
        {name: tuple(by_day.get(d, ZERO) for d in days) for name, by_day in sorted(totals.items())},
    )


async def _paid(institution_id: int, days: tuple[date, ...]) -> list[Payment]:
    # A day early in UTC: every Mexico City day of the window is inside; the rest is cut below.
    start = datetime.combine(days[0] - timedelta(days=1), time.min, tzinfo=UTC)
    return await Payment.filter(
        institution_id=institution_id, status__in=list(COLLECTED), paid_at__gte=start
    ).only("id", "paid_at", "amount_centavos", "method", "provider")


def _day(payment: Payment) -> date:
    assert payment.paid_at is not None  # _paid filters on it
    return mexico_city_date(payment.paid_at)


async def collections_by_day(
    institution_id: int, today: date, count: int = 14
) -> tuple[DailySeries, DailySeries]:
    """Money collected per day over the last ``count`` days: (by method, by provider)."""
    days = last_days(today, count)
    by_method: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    by_provider: dict[str, dict[date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for payment in await _paid(institution_id, days):
        day = _day(payment)
        if day < days[0] or day > days[-1]:
            continue
        amount = from_centavos(payment.amount_centavos)
        by_method[str(payment.method)][day] += amount
        by_provider[str(payment.provider)][day] += amount
    return _series(days, by_method), _series(days, by_provider)


async def disbursed_vs_collected(institution_id: int, today: date, count: int = 14) -> DailySeries:
    """Principal paid out and money collected per day over the last ``count`` days."""
    days = last_days(today, count)
    totals: dict[str, dict[date, Decimal]] = {"cobrado": {}, "dispersado": {}}
    for payment in await _paid(institution_id, days):
        day = _day(payment)
        if day not in days:
            continue
        totals["cobrado"][day] = totals["cobrado"].get(day, ZERO) + from_centavos(
            payment.amount_centavos
        )
    loans = await Loan.filter(
        institution_id=institution_id, start_date__gte=days[0], start_date__lte=days[-1]
    ).exclude(status__in=[LoanStatus.APPLICATION, LoanStatus.APPROVED])
    for loan in loans:
        day = loan.start_date
        totals["dispersado"][day] = totals["dispersado"].get(day, ZERO) + from_centavos(
            loan.principal_centavos
        )
    return _series(days, totals)


async def delinquency_over_time(institution_id: int, today: date, weeks: int = 8) -> DailySeries:
    """How many loans were in each late bucket at the end of each of the last ``weeks`` weeks,
    from the contract and the ledger's postings effective by then."""
    days = tuple(today - timedelta(weeks=weeks - 1 - i) for i in range(weeks))
    loans = (
        await Loan.filter(institution_id=institution_id, status__in=list(AGED))
        .order_by("id")
        .limit(2000)
    )
    ids = [loan.id for loan in loans]
    rows = await Installment.filter(loan_id__in=ids, superseded_on__isnull=True).order_by(
        "loan_id", "number"
    )
    by_loan: dict[int, list[Installment]] = {loan_id: [] for loan_id in ids}
    for row in rows:
        by_loan[row.loan_id].append(row)  # type: ignore[attr-defined]
    activity = await activity_rows(ids, dated=True)
    counts: dict[str, dict[date, Decimal]] = {
        b.value: {} for b in DelinquencyBucket if b is not DelinquencyBucket.CURRENT
    }
    for loan in loans:
        own = by_loan[loan.id]
        periods = contract_periods(loan, max((r.number for r in own), default=0))
        for day in days:
            if loan.start_date > day:
                continue
            folded = fold_activity(activity[loan.id], before=day + timedelta(days=1))
            states = installment_states(own, folded, periods, Decimal(loan.vat_rate))
            bucket = bucket_for_days(days_past_due(states, day, MEXICO_BANKS))
            if bucket is not DelinquencyBucket.CURRENT:
                counts[bucket.value][day] = counts[bucket.value].get(day, ZERO) + 1
    return _series(days, counts)
