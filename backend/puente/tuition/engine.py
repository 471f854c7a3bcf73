"""Tuition plans (colegiaturas) as installments the loan allocation engine understands.

A school cycle has an enrolment fee (inscripción, installment 0) and monthly payments (1..N).
A beca (scholarship) takes a percentage off the monthly payments; paying by a day of the month
earns an early-payment discount (pronto pago); paying after the due date plus a grace period
adds a recargo (late surcharge), fixed and/or a percentage. The two windows never overlap (the
plan is refused if pronto pago would end after the due date plus grace), and a colegiatura a
100 % beca covers owes nothing, so it is never late.

Mapping onto the shared components: the colegiatura is ``FEE`` (+ ``FEE_VAT``), the recargo is
``LATE_INTEREST`` (+ ``LATE_INTEREST_VAT``). IVA defaults to 0: tuition at a school with RVOE is
exempt (LIVA art. 15 fr. XII; mexico.md §2.2); set ``vat_rate`` for schools without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from puente.loans.engine.allocation import (
    Allocation,
    OverpaymentMode,
    Prelacion,
    PrelacionStep,
    Scope,
    allocate_payment,
)
from puente.loans.engine.calendar import add_months, days_in_month
from puente.loans.engine.installments import Component, InstallmentState
from puente.money import CENT, ZERO, round_centavos

__all__ = [
    "ENROLMENT",
    "TUITION_PRELACION",
    "TuitionCharge",
    "TuitionPlan",
    "TuitionPlanError",
    "allocate_tuition_payment",
    "amount_due_on",
    "monthly_due_dates",
    "tuition_installments",
]

ENROLMENT = 0  # installment number of the inscripción

# Recargos first (Código Civil art. 2094: accessories before the debt), then the colegiaturas
# that are due, then later months in order: schools apply extra money to the next months.
TUITION_PRELACION = Prelacion(
    steps=(
        PrelacionStep((Component.LATE_INTEREST, Component.LATE_INTEREST_VAT), Scope.ANY),
        PrelacionStep((Component.FEE, Component.FEE_VAT), Scope.DUE),
        PrelacionStep((Component.FEE, Component.FEE_VAT), Scope.ANY),
    )
)


class TuitionPlanError(ValueError):
    """A tuition plan that cannot be billed; ``field`` names the input to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, kw_only=True)
class TuitionPlan:
    """One student's cycle, paid by ``payer_id`` (a parent or tutor, or the student)."""

    student_id: str
    payer_id: str
    cycle: str  # e.g. "2026-2027"
    enrolment_fee: Decimal
    enrolment_due_date: date
    monthly_amount: Decimal  # list price of each colegiatura
    due_dates: tuple[date, ...]  # one per colegiatura, ascending
    scholarship_rate: Decimal = ZERO  # beca on the colegiaturas
    scholarship_on_enrolment: bool = False
    early_discount_rate: Decimal = ZERO
    early_discount_day: int | None = None  # pay on or before this day of the due month
    surcharge_amount: Decimal = ZERO  # recargo fijo, once per late colegiatura
    surcharge_rate: Decimal = ZERO  # recargo as a fraction of the colegiatura after beca
    surcharge_grace_days: int = 0  # recargo from due_date + grace + 1
    vat_rate: Decimal = ZERO

    def __post_init__(self) -> None:
        for name in ("enrolment_fee", "monthly_amount", "surcharge_amount"):
            value = getattr(self, name)
            if not _is_amount(value):
                raise TuitionPlanError(name, "must be a Decimal >= 0 in whole centavos")
        for name in ("scholarship_rate", "early_discount_rate", "surcharge_rate", "vat_rate"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not ZERO <= value <= 1:
                raise TuitionPlanError(name, "must be a Decimal fraction from 0 to 1")
        dates = tuple(self.due_dates)
        object.__setattr__(self, "due_dates", dates)
        if not dates or any(b <= a for a, b in zip(dates, dates[1:], strict=False)):
            raise TuitionPlanError("due_dates", "give at least one date, strictly ascending")
        if self.early_discount_day is not None and not 1 <= self.early_discount_day <= 31:
            raise TuitionPlanError("early_discount_day", "must be a day of the month, 1 to 31")
        if type(self.surcharge_grace_days) is not int or self.surcharge_grace_days < 0:
            raise TuitionPlanError("surcharge_grace_days", "must be a whole number >= 0")
        if not self.student_id or not self.payer_id:
            raise TuitionPlanError("student_id", "student and payer identifiers are required")
        self._check_windows()

    def _check_windows(self) -> None:
        """Pronto pago ends no later than the last day without recargo (due date + grace),
        for every colegiatura: no day can both earn the discount and owe a recargo."""
        if self.early_discount_day is None:
            return
        grace = timedelta(days=self.surcharge_grace_days)
        for due in self.due_dates:
            if _discount_deadline(due, self) > due + grace:
                raise TuitionPlanError(
                    "early_discount_day",
                    f"pronto pago by day {self.early_discount_day} overlaps the recargo of the"
                    f" colegiatura due {due.isoformat()} (late after"
                    f" {(due + grace).isoformat()}): end the discount by then",
                )

    @property
    def installment_numbers(self) -> range:
        """0 (inscripción) then 1..N (colegiaturas)."""
        return range(len(self.due_dates) + 1)

    def due_date(self, number: int) -> date:
        """Due date of installment ``number``."""
        if number == ENROLMENT:
            return self.enrolment_due_date
        if not 1 <= number <= len(self.due_dates):
            raise TuitionPlanError("number", f"no installment {number} in this plan")
        return self.due_dates[number - 1]


@dataclass(frozen=True)
class TuitionCharge:
    """What one installment costs if paid on ``on``, with each adjustment shown."""

    number: int
    on: date
    list_price: Decimal
    scholarship: Decimal
    discount: Decimal
    amount: Decimal  # list_price - scholarship - discount
    vat: Decimal
    surcharge: Decimal
    surcharge_vat: Decimal
    total: Decimal


def monthly_due_dates(first: date, count: int) -> tuple[date, ...]:
    """``count`` monthly due dates on ``first``'s day of the month (clamped to month end)."""
    return tuple(add_months(first, k, first.day) for k in range(count))


def amount_due_on(plan: TuitionPlan, number: int, on: date) -> TuitionCharge:
    """The charge for installment ``number`` paid on ``on``: beca, then pronto-pago discount
    if ``on`` is by the discount day, or a recargo once the grace period has passed."""
    due = plan.due_date(number)
    if number == ENROLMENT:
        price = plan.enrolment_fee
        beca = (
            round_centavos(price * plan.scholarship_rate) if plan.scholarship_on_enrolment else ZERO
        )
        discount = surcharge = ZERO
    else:
        price = plan.monthly_amount
        beca = round_centavos(price * plan.scholarship_rate)
        after_beca = price - beca
        discount = ZERO
        if plan.early_discount_day is not None and on <= _discount_deadline(due, plan):
            discount = round_centavos(after_beca * plan.early_discount_rate)
        surcharge = ZERO
        # A recargo is for paying late what is owed: a 100 % beca owes nothing, so never.
        if after_beca > 0 and on > due + timedelta(days=plan.surcharge_grace_days):
            surcharge = plan.surcharge_amount + round_centavos(after_beca * plan.surcharge_rate)
    amount = price - beca - discount
    vat = round_centavos(amount * plan.vat_rate)
    surcharge_vat = round_centavos(surcharge * plan.vat_rate)
    return TuitionCharge(
        number=number,
        on=on,
        list_price=price,
        scholarship=beca,
        discount=discount,
        amount=amount,
        vat=vat,
        surcharge=surcharge,
        surcharge_vat=surcharge_vat,
        total=amount + vat + surcharge + surcharge_vat,
    )


def tuition_installments(
    plan: TuitionPlan, on: date, previous: Sequence[InstallmentState] = ()
) -> tuple[InstallmentState, ...]:
    """Installment states priced as of ``on``, carrying what ``previous`` states had paid.

    A settled installment keeps its price (a colegiatura paid with the discount stays paid); an
    open one is re-priced, so the discount lapses and the recargo appears as dates pass.
    """
    before = {state.number: state for state in previous}
    states = []
    for number in plan.installment_numbers:
        old = before.get(number)
        if old is not None and old.is_settled:
            states.append(old)
            continue
        charge = amount_due_on(plan, number, on)
        due = {
            Component.FEE: charge.amount,
            Component.FEE_VAT: charge.vat,
            Component.LATE_INTEREST: charge.surcharge,
            Component.LATE_INTEREST_VAT: charge.surcharge_vat,
        }
        paid = {} if old is None else dict(old.paid)
        for component, value in paid.items():
            due[component] = max(due.get(component, ZERO), value)
        states.append(
            InstallmentState(number=number, due_date=plan.due_date(number), due=due, paid=paid)
        )
    return tuple(states)


def allocate_tuition_payment(
    plan: TuitionPlan,
    previous: Sequence[InstallmentState],
    amount: Decimal,
    on: date,
    overpayment: OverpaymentMode = OverpaymentMode.ADVANCE,
) -> Allocation:
    """Price the plan as of ``on`` and allocate a payment with the tuition prelación."""
    states = tuition_installments(plan, on, previous)
    return allocate_payment(states, amount, on, TUITION_PRELACION, overpayment)


def _discount_deadline(due: date, plan: TuitionPlan) -> date:
    day = plan.early_discount_day or 1
    return date(due.year, due.month, min(day, days_in_month(due.year, due.month)))


def _is_amount(value: object) -> bool:
    return (
        isinstance(value, Decimal)
        and value.is_finite()
        and value >= 0
        and value == value.quantize(CENT)
    )
