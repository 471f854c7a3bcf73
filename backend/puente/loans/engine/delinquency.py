"""Delinquency: days past due, buckets, and the daily accrual of moratorium interest and fees.

Market practice (mexico.md §2.3, UNCONFIRMED as regulation, hence every knob is configurable):
moratorium interest = overdue principal × rate / 360 per day late, plus IVA when taxable (LIVA
art. 18-A counts moratorium interest as interest); nothing on overdue interest. It is accrued
exactly and rounded once (``accrue_days``), never summed from daily roundings. A due date that
falls on a non-business day moves to the next business day with no moratorium (SOFOM E.N.R.
transparency rules art. 11 fr. IV), and moratorium runs from the day after (CCom art. 362).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from puente.loans.engine.calendar import BusinessCalendar
from puente.loans.engine.installments import Charge, Component, InstallmentState
from puente.money import CENT, ZERO, InvalidAmount, round_centavos

__all__ = [
    "Accrual",
    "DelinquencyBucket",
    "MoratoriumBase",
    "MoratoriumPolicy",
    "accrue",
    "accrue_days",
    "accrue_range",
    "bucket_for_days",
    "days_past_due",
    "delinquency_bucket",
    "grace_end",
]

_ONE_DAY = timedelta(days=1)


class DelinquencyBucket(StrEnum):
    """Aging buckets by days past due."""

    CURRENT = "CURRENT"
    DPD_1_29 = "DPD_1_29"
    DPD_30_59 = "DPD_30_59"
    DPD_60_89 = "DPD_60_89"
    DPD_90_PLUS = "DPD_90_PLUS"


class MoratoriumBase(StrEnum):
    """What moratorium interest is computed on."""

    OVERDUE_PRINCIPAL = "OVERDUE_PRINCIPAL"  # market practice (mexico.md §2.3)
    OVERDUE_PRINCIPAL_AND_INTEREST = "OVERDUE_PRINCIPAL_AND_INTEREST"  # if the contract says so


@dataclass(frozen=True, kw_only=True)
class MoratoriumPolicy:
    """A product's late-payment rules (LoanProduct.late_annual_rate, late_fee_centavos)."""

    annual_rate: Decimal  # e.g. 2 × the ordinary rate; CCom art. 362: 6 % if none was agreed
    day_basis: int = 360
    base: MoratoriumBase = MoratoriumBase.OVERDUE_PRINCIPAL
    vat_rate: Decimal = Decimal("0.16")  # the loan's IVA rate
    late_fee: Decimal = ZERO  # charged once per installment that falls overdue
    # Fees bear IVA even when interest is exempt; None: same as vat_rate. Charging both a late
    # fee and moratorium for one event may be limited by Banxico Circular 22/2010 (UNCONFIRMED).
    late_fee_vat_rate: Decimal | None = None

    def __post_init__(self) -> None:
        for name in ("annual_rate", "vat_rate", "late_fee"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InvalidAmount(f"{name} must be a Decimal >= 0")
        if self.late_fee != self.late_fee.quantize(CENT):
            raise InvalidAmount("late_fee must be whole centavos")
        if self.day_basis not in (360, 365):
            raise ValueError("day_basis must be 360 or 365")


@dataclass(frozen=True)
class Accrual:
    """What to charge for one day; empty when the day was already accrued."""

    day: date
    charges: tuple[Charge, ...]

    @property
    def total(self) -> Decimal:
        """Sum of the charges."""
        return sum((charge.amount for charge in self.charges), ZERO)


def grace_end(state: InstallmentState, calendar: BusinessCalendar | None = None) -> date:
    """Last day the installment can be paid without moratorium (due date moved to a business
    day when ``calendar`` is given)."""
    if calendar is None:
        return state.due_date
    return calendar.next_business_day(state.due_date)


def days_past_due(
    installments: Sequence[InstallmentState],
    today: date,
    calendar: BusinessCalendar | None = None,
) -> int:
    """Days the oldest unpaid installment is late on ``today`` (0 when current)."""
    worst = 0
    for state in installments:
        if state.outstanding_total > 0:
            worst = max(worst, (today - grace_end(state, calendar)).days)
    return worst


def bucket_for_days(days: int) -> DelinquencyBucket:
    """The aging bucket for a number of days past due."""
    if days <= 0:
        return DelinquencyBucket.CURRENT
    if days < 30:
        return DelinquencyBucket.DPD_1_29
    if days < 60:
        return DelinquencyBucket.DPD_30_59
    if days < 90:
        return DelinquencyBucket.DPD_60_89
    return DelinquencyBucket.DPD_90_PLUS


def delinquency_bucket(
    installments: Sequence[InstallmentState],
    today: date,
    calendar: BusinessCalendar | None = None,
) -> DelinquencyBucket:
    """The aging bucket of a loan on ``today``."""
    return bucket_for_days(days_past_due(installments, today, calendar))


def accrue(
    installments: Sequence[InstallmentState],
    day: date,
    policy: MoratoriumPolicy,
    *,
    accrued_through: date | None = None,
    calendar: BusinessCalendar | None = None,
) -> Accrual:
    """What to post for ``day``, on the state at the start of that day (which holds what was
    posted for earlier days), assuming that state held since each installment fell late.
    Idempotent: a ``day`` on or before ``accrued_through`` yields nothing."""
    if accrued_through is not None and day <= accrued_through:
        return Accrual(day, ())
    days = [(d, installments) for d in _late_days(installments, day, calendar)]
    accruals = accrue_days(days, policy, emit_after=day - _ONE_DAY, calendar=calendar)
    return accruals[-1] if accruals and accruals[-1].day == day else Accrual(day, ())


def accrue_range(
    installments: Sequence[InstallmentState],
    policy: MoratoriumPolicy,
    *,
    accrued_through: date,
    through: date,
    calendar: BusinessCalendar | None = None,
) -> tuple[Accrual, ...]:
    """Daily accruals for every day after ``accrued_through`` up to ``through`` (no payments in
    between: charges never change the moratorium base)."""
    days = [(d, installments) for d in _late_days(installments, through, calendar)]
    return accrue_days(days, policy, emit_after=accrued_through, calendar=calendar)


def accrue_days(
    days: Iterable[tuple[date, Sequence[InstallmentState]]],
    policy: MoratoriumPolicy,
    *,
    emit_after: date | None = None,
    calendar: BusinessCalendar | None = None,
) -> tuple[Accrual, ...]:
    """The accruals to post for each day after ``emit_after``, given the state at the start of
    every late day (as posted before this run), in date order.

    Moratorium is accrued exactly, day by day, and rounded once: after each day, what an
    installment has been charged is round(exact accrual so far) and its IVA is round(that
    × IVA rate) (mexico.md §2.2: IVA computed once from its rounded base; summing daily
    rounded pieces gives IVA that is not 16 % of its base, which a CFDI validator rejects).
    A day's charge is what brings the installment there, so it is at most a centavo off the
    day's own accrual and the total is never off. Late fees: once, on the first late day.
    """
    daily_rate = policy.annual_rate / policy.day_basis
    exact: dict[int, Decimal] = {}
    generated: dict[tuple[int, Component], Decimal] = {}
    accruals: list[Accrual] = []
    for day, installments in days:
        emit = emit_after is None or day > emit_after
        charges: list[Charge] = []
        for state in installments:
            first_late_day = grace_end(state, calendar) + _ONE_DAY
            if day < first_late_day or state.outstanding_total <= 0:
                continue
            number = state.number
            exact[number] = exact.get(number, ZERO) + _moratorium_base(state, policy) * daily_rate
            if not emit:
                continue
            if day == first_late_day:
                charges.extend(_late_fee(number, policy))
            charges.extend(_true_up(state, exact[number], generated, policy.vat_rate))
        for charge in charges:
            key = (charge.installment_number, charge.component)
            generated[key] = generated.get(key, ZERO) + charge.amount
        if charges:
            accruals.append(Accrual(day, tuple(charges)))
    return tuple(accruals)


def _late_days(
    installments: Sequence[InstallmentState], through: date, calendar: BusinessCalendar | None
) -> list[date]:
    """Every day from the first day any installment is late up to ``through``."""
    starts = [grace_end(state, calendar) + _ONE_DAY for state in installments]
    if not starts:
        return []
    day, days = min(starts), []
    while day <= through:
        days.append(day)
        day += _ONE_DAY
    return days


def _moratorium_base(state: InstallmentState, policy: MoratoriumPolicy) -> Decimal:
    base = state.outstanding(Component.PRINCIPAL)
    if policy.base is MoratoriumBase.OVERDUE_PRINCIPAL_AND_INTEREST:
        base += state.outstanding(Component.INTEREST)
    return base


def _late_fee(number: int, policy: MoratoriumPolicy) -> list[Charge]:
    if policy.late_fee <= 0:
        return []
    fee_vat_rate = policy.vat_rate if policy.late_fee_vat_rate is None else policy.late_fee_vat_rate
    charges = [Charge(number, Component.FEE, policy.late_fee)]
    fee_vat = round_centavos(policy.late_fee * fee_vat_rate)
    if fee_vat > 0:
        charges.append(Charge(number, Component.FEE_VAT, fee_vat))
    return charges


def _true_up(
    state: InstallmentState,
    exact: Decimal,
    generated: dict[tuple[int, Component], Decimal],
    vat_rate: Decimal,
) -> list[Charge]:
    """Charges that bring the installment's moratorium to round(exact), IVA to round(base ×
    rate). Never negative: amounts posted under the old per-day rounding stay as they are."""
    number = state.number
    posted = state.due[Component.LATE_INTEREST] + generated.get(
        (number, Component.LATE_INTEREST), ZERO
    )
    posted_vat = state.due[Component.LATE_INTEREST_VAT] + generated.get(
        (number, Component.LATE_INTEREST_VAT), ZERO
    )
    base = max(round_centavos(exact), posted)
    charges = []
    if base > posted:
        charges.append(Charge(number, Component.LATE_INTEREST, base - posted))
    vat = round_centavos(base * vat_rate)
    if vat > posted_vat:
        charges.append(Charge(number, Component.LATE_INTEREST_VAT, vat - posted_vat))
    return charges
