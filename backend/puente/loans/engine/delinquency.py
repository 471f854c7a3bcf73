"""Delinquency: days past due, buckets, and the daily accrual of moratorium interest and fees.

Market practice (mexico.md §2.3, UNCONFIRMED as regulation, hence every knob is configurable):
moratorium interest = overdue principal × rate / 360 per day late, plus IVA when taxable (LIVA
art. 18-A counts moratorium interest as interest); nothing on overdue interest. A due date that
falls on a non-business day moves to the next business day with no moratorium (SOFOM E.N.R.
transparency rules art. 11 fr. IV), and moratorium runs from the day after (CCom art. 362).
"""

from __future__ import annotations

from collections.abc import Sequence
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
    """Moratorium interest (+IVA) and late fees (+IVA) for ``day``, on the state as of the
    start of that day. Idempotent: a ``day`` on or before ``accrued_through`` yields nothing."""
    if accrued_through is not None and day <= accrued_through:
        return Accrual(day, ())
    daily_rate = policy.annual_rate / policy.day_basis
    fee_vat_rate = policy.vat_rate if policy.late_fee_vat_rate is None else policy.late_fee_vat_rate
    charges: list[Charge] = []
    for state in installments:
        first_late_day = grace_end(state, calendar) + _ONE_DAY
        if day < first_late_day or state.outstanding_total <= 0:
            continue
        number = state.number
        if day == first_late_day and policy.late_fee > 0:
            charges.append(Charge(number, Component.FEE, policy.late_fee))
            fee_vat = round_centavos(policy.late_fee * fee_vat_rate)
            if fee_vat > 0:
                charges.append(Charge(number, Component.FEE_VAT, fee_vat))
        base = state.outstanding(Component.PRINCIPAL)
        if policy.base is MoratoriumBase.OVERDUE_PRINCIPAL_AND_INTEREST:
            base += state.outstanding(Component.INTEREST)
        # Rounded per day and installment, half-up: the daily accrual a statement can show.
        interest = round_centavos(base * daily_rate)
        if interest > 0:
            charges.append(Charge(number, Component.LATE_INTEREST, interest))
            vat = round_centavos(interest * policy.vat_rate)
            if vat > 0:
                charges.append(Charge(number, Component.LATE_INTEREST_VAT, vat))
    return Accrual(day, tuple(charges))


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
    accruals = []
    day = accrued_through + _ONE_DAY
    while day <= through:
        accrual = accrue(installments, day, policy, calendar=calendar)
        if accrual.charges:
            accruals.append(accrual)
        day += _ONE_DAY
    return tuple(accruals)
