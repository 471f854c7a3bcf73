"""Amortization schedules (tablas de amortización), French or German, with IVA on interest.

Rounding: every amount is rounded to the centavo half-up as it is produced; the last installment
takes whatever principal is left, so the principal column sums exactly to the financed principal
and the final balance is zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from puente.loans.engine.calendar import add_months, days_in_month
from puente.loans.engine.terms import AmortizationMethod, DayCount, LoanTerms, Periodicity
from puente.money import CENT, ZERO, round_centavos

__all__ = [
    "Period",
    "Schedule",
    "ScheduleRow",
    "amortize",
    "build_schedule",
    "contractual_periods",
    "level_amount",
]

_STEP_DAYS = {Periodicity.WEEKLY: 7, Periodicity.BIWEEKLY: 14}
# Convention (UNCONFIRMED): without first_due_date, the first quincena date is at least this
# many days after the start, so the first period is not a one-day period charged in full.
_MIN_FIRST_SEMIMONTHLY_DAYS = 7


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One installment: ``due_date`` is when it is payable (moved to a business day if the
    terms carry a calendar); ``period_start``/``period_end`` are the contractual dates interest
    is computed on."""

    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    vat: Decimal  # IVA on interest
    total: Decimal
    balance: Decimal  # principal still owed after this installment
    period_start: date
    period_end: date


@dataclass(frozen=True)
class Schedule:
    """A complete schedule with its totals and the opening-fee effect on the disbursement."""

    terms: LoanTerms
    rows: tuple[ScheduleRow, ...]
    installment_amount: Decimal  # total of installment 1 (level for FRENCH with IVA embedded)
    total_interest: Decimal
    total_vat: Decimal  # IVA on interest only; the fee's IVA is opening_fee_vat
    total_paid: Decimal  # sum of installment totals
    opening_fee: Decimal
    opening_fee_vat: Decimal
    disbursed_amount: Decimal  # cash to the borrower
    financed_principal: Decimal  # what the principal column sums to


class Period(NamedTuple):
    """A contractual period: interest runs from ``start`` to ``end``; payable on ``due``."""

    number: int
    start: date
    end: date
    due: date


def build_schedule(terms: LoanTerms) -> Schedule:
    """Build the amortization schedule for ``terms``."""
    periods = contractual_periods(terms)
    balance = terms.financed_principal
    level = level_amount(terms, balance, len(periods))
    rows = amortize(terms, balance, periods, level)
    total_interest = sum((row.interest for row in rows), ZERO)
    total_vat = sum((row.vat for row in rows), ZERO)
    total_paid = sum((row.total for row in rows), ZERO)
    return Schedule(
        terms=terms,
        rows=tuple(rows),
        installment_amount=rows[0].total,
        total_interest=total_interest,
        total_vat=total_vat,
        total_paid=total_paid,
        opening_fee=terms.opening_fee,
        opening_fee_vat=terms.opening_fee_vat,
        disbursed_amount=terms.disbursed_amount,
        financed_principal=balance,
    )


def level_amount(terms: LoanTerms, balance: Decimal, count: int) -> Decimal:
    """What the method keeps level over ``count`` periods: FRENCH the installment (with IVA
    when embedded, else before IVA), GERMAN the principal part."""
    if terms.method is AmortizationMethod.GERMAN:
        return round_centavos(balance / count)
    rate = terms.periodic_rate
    if terms.embeds_vat:
        # mexico.md §2.1: a level total including IVA solves the PMT with r·(1+IVA).
        rate *= 1 + terms.vat_rate
    if rate == 0:
        payment = balance / count
    else:
        payment = balance * rate / (1 - (1 + rate) ** -count)
    return round_centavos(payment)


def amortize(
    terms: LoanTerms,
    balance: Decimal,
    periods: Sequence[Period],
    level: Decimal,
    *,
    stop_when_paid: bool = False,
) -> list[ScheduleRow]:
    """Rows paying ``balance`` over ``periods`` with the given level amount (see level_amount).

    The last period takes whatever principal is left. With ``stop_when_paid`` the rows end as
    soon as the balance is zero (how a prepayment shortens the term).
    """
    french = terms.method is AmortizationMethod.FRENCH
    embeds = terms.embeds_vat
    vat_rate = terms.vat_rate
    factors = _interest_factors(terms, periods)
    # round_centavos inlined (same half-up rounding), bound once: this loop is the hot path.
    quantize = Decimal.quantize
    rows: list[ScheduleRow] = []
    remaining = len(periods)
    for (number, start, end, due), factor in zip(periods, factors, strict=True):
        remaining -= 1
        # LFPC art. 66 / mexico.md §2.1: interest only on the outstanding balance (saldo insoluto).
        interest = quantize(balance * factor, CENT, ROUND_HALF_UP)
        vat = quantize(interest * vat_rate, CENT, ROUND_HALF_UP)
        if not remaining:
            principal = balance
        else:
            if not french:
                principal = level
            elif embeds:
                principal = level - interest - vat
            else:
                principal = level - interest
            if principal < 0:
                principal = ZERO
            elif principal > balance:
                principal = balance
        balance -= principal
        total = principal + interest + vat
        rows.append(ScheduleRow(number, due, principal, interest, vat, total, balance, start, end))
        if stop_when_paid and balance == 0:
            break
    return rows


def _interest_factors(terms: LoanTerms, periods: Sequence[Period]) -> list[Decimal]:
    if terms.day_count is DayCount.PERIODIC:
        return [terms.periodic_rate] * len(periods)
    basis = 360 if terms.day_count is DayCount.ACTUAL_360 else 365
    rate = terms.annual_rate
    return [rate * (p.end - p.start).days / basis for p in periods]


def contractual_periods(terms: LoanTerms) -> list[Period]:
    """The contractual periods of ``terms``; due dates move to a business day if a calendar is
    set, but interest still runs to the contractual date (mexico.md §2.3: the move carries no
    fees or moratorium interest)."""
    ends = _contractual_dates(terms)
    calendar = terms.calendar
    periods = []
    start = terms.start_date
    for number, end in enumerate(ends, start=1):
        due = calendar.next_business_day(end) if calendar is not None else end
        periods.append(Period(number, start, end, due))
        start = end
    return periods


def _contractual_dates(terms: LoanTerms) -> list[date]:
    count = terms.term_count
    start = terms.start_date
    first = terms.first_due_date
    if terms.periodicity is Periodicity.MONTHLY:
        anchor = first if first is not None else add_months(start, 1)
        day = anchor.day if first is not None else start.day
        base = anchor.year * 12 + anchor.month - 1
        dates = []
        for index in range(base, base + count):
            year, month = divmod(index, 12)
            month += 1
            dates.append(
                date(year, month, day if day <= 28 else min(day, days_in_month(year, month)))
            )
        return dates
    if terms.periodicity is Periodicity.SEMIMONTHLY:
        current = first if first is not None else _first_quincena(start)
        dates = [current]
        for _ in range(count - 1):
            current = _next_quincena(current)
            dates.append(current)
        return dates
    step = timedelta(days=_STEP_DAYS[terms.periodicity])
    current = first if first is not None else start + step
    return [current + step * k for k in range(count)]


def _first_quincena(start: date) -> date:
    candidate = _next_quincena(start)
    while (candidate - start).days < _MIN_FIRST_SEMIMONTHLY_DAYS:
        candidate = _next_quincena(candidate)
    return candidate


def _next_quincena(day: date) -> date:
    """The first 15th or month end strictly after ``day``."""
    month_end = days_in_month(day.year, day.month)
    if day.day < 15:
        return day.replace(day=15)
    if day.day < month_end:
        return day.replace(day=month_end)
    following = add_months(day.replace(day=1), 1)
    return following.replace(day=15)
