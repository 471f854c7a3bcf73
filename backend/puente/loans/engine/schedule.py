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
from puente.loans.engine.terms import (
    AmortizationMethod,
    DayCount,
    LoanTerms,
    LoanTermsError,
    Periodicity,
)
from puente.money import CENT, ZERO, round_centavos

__all__ = [
    "Period",
    "Schedule",
    "ScheduleRow",
    "accumulation_factor",
    "amortize",
    "build_schedule",
    "check_sound",
    "contractual_periods",
    "level_amount",
    "level_kept",
    "level_rows",
    "level_tolerance",
]

_STEP_DAYS = {Periodicity.WEEKLY: 7, Periodicity.BIWEEKLY: 14}
# Convention (UNCONFIRMED): without first_due_date, the first quincena date is at least this
# many days after the start, so the first period is not a one-day period charged in full.
_MIN_FIRST_SEMIMONTHLY_DAYS = 7
# Moving the level more than a few times means the rounding is chaotic: check_sound decides.
_MAX_LEVEL_STEPS = 4
# A FRENCH schedule whose last installment is further than this from the level is a balloon.
_MAX_LAST_GAP = Decimal("0.10")


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
    """Build the amortization schedule for ``terms``; ``LoanTermsError`` when the terms
    cannot give a sound schedule (see ``check_sound``)."""
    periods = contractual_periods(terms)
    balance = terms.financed_principal
    rows = level_rows(terms, balance, periods)
    check_sound(terms, balance, rows)
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


def level_amount(terms: LoanTerms, balance: Decimal, periods: int | Sequence[Period]) -> Decimal:
    """What the method keeps level over ``periods``: FRENCH the installment (with IVA when
    embedded, else before IVA), GERMAN the principal part.

    FRENCH is solved on the periods' own interest factors, so with ACTUAL_360/365 each
    period's days count (mexico.md §2.1: solving on r/m leaves a balloon). A bare count is
    accepted only for PERIODIC, where every period has the same factor.
    """
    count = periods if isinstance(periods, int) else len(periods)
    if count < 1:
        raise ValueError("a level amount needs at least one period")
    if terms.method is AmortizationMethod.GERMAN:
        return round_centavos(balance / count)
    if isinstance(periods, int):
        if terms.day_count is not DayCount.PERIODIC:
            raise ValueError("actual day counts need the periods, not a count")
        factors = [terms.periodic_rate] * count
    else:
        factors = _interest_factors(terms, periods)
    return round_centavos(balance / _annuity_sum(_growth(terms, factors)))


def level_rows(terms: LoanTerms, balance: Decimal, periods: Sequence[Period]) -> list[ScheduleRow]:
    """Rows paying ``balance`` over ``periods`` with the level amount the method keeps.

    FRENCH: the level solved exactly is rounded to the centavo, and each period's interest
    is rounded too, so the last installment absorbs the difference. When moving the level by
    whole centavos brings the last installment closer to it, the level moves (a centavo on
    the level moves the last installment by ``accumulation`` centavos, so no centavo level
    can do better than half of that).
    """
    level = level_amount(terms, balance, periods)
    rows = amortize(terms, balance, periods, level)
    if terms.method is not AmortizationMethod.FRENCH or len(rows) < 2:
        return rows
    accumulation = accumulation_factor(terms, periods)
    for _ in range(_MAX_LEVEL_STEPS):
        gap = level_kept(terms, rows[-1]) - level
        step = round_centavos(gap / accumulation)
        if step == 0:
            break
        candidate = level + step
        better = amortize(terms, balance, periods, candidate)
        if abs(level_kept(terms, better[-1]) - candidate) >= abs(gap):
            break
        level, rows = candidate, better
    return rows


def accumulation_factor(terms: LoanTerms, periods: Sequence[Period]) -> Decimal:
    """How many centavos the last FRENCH installment moves per centavo of level (>= 1)."""
    growth = _growth(terms, _interest_factors(terms, periods))
    total = Decimal(1)
    compounded = Decimal(1)
    for factor in reversed(growth[1:]):
        compounded *= factor
        total += compounded
    return total


def check_sound(terms: LoanTerms, balance: Decimal, rows: Sequence[ScheduleRow]) -> None:
    """Refuse a degenerate schedule with ``LoanTermsError``.

    Sound means: one row per period; every installment repays some principal (so every
    installment is above zero and the balance falls every period, to exactly zero); FRENCH
    keeps every installment but the last at the level, and the last within the rounding of
    the level (``level_tolerance``: a centavo per installment for ordinary terms). At
    extreme rates and terms the level barely exceeds the interest: centavo rounding then
    leaves interest-only rows and a balloon, which is not a loan anyone should sign.
    """
    if len(rows) != terms.term_count or any(row.principal <= 0 for row in rows):
        raise LoanTermsError(
            "term_count",
            "too many installments for this amount and rate: some would repay no principal;"
            " choose a shorter term or a larger amount",
        )
    if sum((row.principal for row in rows), ZERO) != balance or rows[-1].balance != 0:
        raise AssertionError("schedule does not repay its principal")  # a bug, not bad input
    if terms.method is not AmortizationMethod.FRENCH or len(rows) < 2:
        return
    level = level_kept(terms, rows[0])
    periods = [Period(r.number, r.period_start, r.period_end, r.due_date) for r in rows]
    tolerance = level_tolerance(terms, periods, level)
    if any(level_kept(terms, row) != level for row in rows[:-1]) or (
        abs(level_kept(terms, rows[-1]) - level) > tolerance
    ):
        raise LoanTermsError(
            "term_count",
            "this rate and term cannot keep the installments level; choose a shorter term",
        )


def level_tolerance(terms: LoanTerms, periods: Sequence[Period], level: Decimal) -> Decimal:
    """How far the last FRENCH installment may be from the level.

    A centavo per installment always (interest is rounded every period). Beyond that, only
    what centavo rounding of the level forces (half a centavo times the accumulation factor)
    and never more than 10 % of the level: past that the "level" schedule ends in a balloon.
    """
    count = len(periods)
    forced = CENT * (count + accumulation_factor(terms, periods)) / 2
    return round_centavos(max(CENT * count, min(forced, level * _MAX_LAST_GAP)))


def level_kept(terms: LoanTerms, row: ScheduleRow) -> Decimal:
    """The part of a row the method keeps level: FRENCH the total (or the total before IVA
    when IVA goes on top), GERMAN the principal."""
    if terms.method is AmortizationMethod.GERMAN:
        return row.principal
    return row.total if terms.embeds_vat else row.principal + row.interest


def _growth(terms: LoanTerms, factors: Sequence[Decimal]) -> list[Decimal]:
    """1 + each period's rate (times 1 + IVA when the installment embeds it, mexico.md §2.1)."""
    vat = 1 + terms.vat_rate if terms.embeds_vat else Decimal(1)
    return [1 + factor * vat for factor in factors]


def _annuity_sum(growth: Sequence[Decimal]) -> Decimal:
    """Σ_j Π_{k<=j} 1/g_k: what one unit paid each period is worth at the start.

    A sum of positive discount factors, so never zero: no division by zero at tiny rates
    (1e-30), and no (1+r)^-n overflow at large ones.
    """
    total = ZERO
    discount = Decimal(1)
    for factor in growth:
        discount /= factor
        total += discount
    return total


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
