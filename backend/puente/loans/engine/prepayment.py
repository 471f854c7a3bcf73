"""Prepayment (pago anticipado): re-amortizing after a partial prepayment, and the payoff quote.

mexico.md §2.5: a prepayment goes to principal and lowers future interest; the client chooses a
shorter term or a lower installment. mexico.md §2.1: interest is never charged in advance, so a
payoff charges interest only up to the payoff date.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from puente.loans.engine.allocation import (
    AllocationError,
    OverpaymentMode,
    Prelacion,
    PrelacionStep,
    Scope,
)
from puente.loans.engine.installments import (
    Charge,
    Component,
    InstallmentState,
    current_installment,
    installment_from_row,
    installments_after,
)
from puente.loans.engine.schedule import Period, ScheduleRow, amortize, level_kept, level_rows
from puente.loans.engine.terms import AmortizationMethod, LoanTerms
from puente.money import CENT, ZERO, round_centavos

__all__ = ["PAYOFF_PRELACION", "Payoff", "Reamortization", "payoff_amount", "reamortize"]

# A payoff settles every installment, due or not, in the usual component order.
PAYOFF_PRELACION = Prelacion(
    steps=(
        PrelacionStep((Component.FEE, Component.FEE_VAT), Scope.ANY),
        PrelacionStep((Component.LATE_INTEREST, Component.LATE_INTEREST_VAT), Scope.ANY),
        PrelacionStep((Component.INTEREST, Component.INTEREST_VAT), Scope.ANY),
        PrelacionStep((Component.PRINCIPAL,), Scope.ANY),
    )
)


@dataclass(frozen=True)
class Reamortization:
    """The new remaining schedule after a prepayment, and the full new installment state."""

    prepayment: Decimal
    rows: tuple[ScheduleRow, ...]  # replaces every installment after the current one
    installments: tuple[InstallmentState, ...]
    level: Decimal  # FRENCH: the installment kept level; GERMAN: the principal part
    balance_before: Decimal
    balance_after: Decimal


@dataclass(frozen=True)
class Payoff:
    """What settles the loan on ``as_of`` (liquidación anticipada), by component.

    ``unearned_interest_paid`` is interest + IVA already paid for days after ``as_of`` (a
    regular installment paid before its due date, a partial prepayment that reached the
    current period's interest). It is credited: ``total`` is what the components add up to
    less that credit, so any payment lowers the payoff by exactly what it paid (mexico.md
    §2.1, §2.5). ``credits`` says where it sits, per installment and component. Settling:
    ``allocate_payment(payoff.installments, payoff.total + payoff.unearned_interest_paid,
    as_of, PAYOFF_PRELACION)`` settles every installment with nothing left over, once the
    credits are taken back from the interest they were paid to (``loans/settlement.py``).
    """

    as_of: date
    principal: Decimal
    interest: Decimal
    interest_vat: Decimal
    fee: Decimal
    fee_vat: Decimal
    late_interest: Decimal
    late_interest_vat: Decimal
    total: Decimal
    installments: tuple[InstallmentState, ...]
    unearned_interest_paid: Decimal
    credits: tuple[Charge, ...] = ()


def reamortize(
    terms: LoanTerms,
    installments: Sequence[InstallmentState],
    prepayment: Decimal,
    mode: OverpaymentMode,
    today: date,
) -> Reamortization:
    """Apply a principal prepayment made on ``today`` and rebuild the installments after the
    current one (the prepayment takes effect from the current installment's contractual date).

    REDUCE_INSTALLMENT keeps the remaining dates and lowers the level amount; REDUCE_TERM keeps
    today's level amount and drops installments from the end. The result depends only on the
    balance left, so two prepayments equal one of their sum.
    """
    if mode is OverpaymentMode.ADVANCE:
        raise AllocationError("ADVANCE is held for future installments, not re-amortized")
    current = current_installment(installments, today)
    future = installments_after(installments, current)
    if any(state.paid_total > 0 for state in future):
        raise AllocationError("installments after the current one already hold payments")
    balance = sum((state.due[Component.PRINCIPAL] for state in future), ZERO)
    if not ZERO <= prepayment <= balance or prepayment != prepayment.quantize(CENT):
        raise AllocationError(f"prepayment must be whole centavos between 0 and {balance}")
    periods = _periods(future, current)
    remaining = balance - prepayment
    rows: list[ScheduleRow] = []
    level = ZERO
    if mode is OverpaymentMode.REDUCE_TERM:
        level = _level_of(terms, future)
        if remaining > 0 and periods:
            rows = amortize(terms, remaining, periods, level, stop_when_paid=True)
    elif remaining > 0 and periods:
        # The new level is solved on the remaining periods' own days (ACTUAL_360/365), the
        # same way a new schedule is, so the last installment stays level too.
        rows = _until_repaid(level_rows(terms, remaining, periods))
        level = level_kept(terms, rows[0])
    new_future = [installment_from_row(row) for row in rows]
    future_numbers = {state.number for state in future}
    kept = [state for state in installments if state.number not in future_numbers]
    return Reamortization(
        prepayment=prepayment,
        rows=tuple(rows),
        installments=tuple(kept + new_future),
        level=level,
        balance_before=balance,
        balance_after=remaining,
    )


def _until_repaid(rows: list[ScheduleRow]) -> list[ScheduleRow]:
    """The rows up to the one that brings the balance to zero.

    A balance of a few pesos spread over many dates has a centavo level that repays it
    before the last date; the dates after that would be installments of 0.00, so they go
    (the term shortens instead of showing empty installments).
    """
    for index, row in enumerate(rows):
        if row.balance == 0:
            return rows[: index + 1]
    return rows


def _periods(future: Sequence[InstallmentState], current: InstallmentState | None) -> list[Period]:
    periods = []
    previous_end = None if current is None else (current.period_end or current.due_date)
    for state in future:
        end = state.period_end or state.due_date
        start = state.period_start or previous_end or end
        periods.append(Period(state.number, start, end, state.due_date))
        previous_end = end
    return periods


def _level_of(terms: LoanTerms, future: Sequence[InstallmentState]) -> Decimal:
    """The amount the method keeps level, read from the first installment still to come."""
    if not future:
        return ZERO
    first = future[0]
    if terms.method is AmortizationMethod.GERMAN:
        return first.due[Component.PRINCIPAL]
    level = first.due[Component.PRINCIPAL] + first.due[Component.INTEREST]
    return level + first.due[Component.INTEREST_VAT] if terms.embeds_vat else level


def payoff_amount(
    installments: Sequence[InstallmentState], as_of: date, *, vat_rate: Decimal | None = None
) -> Payoff:
    """The amount that settles the loan on ``as_of``: outstanding principal, interest accrued to
    ``as_of`` with its IVA, fees and moratorium already charged (run ``accrue`` through
    ``as_of`` first). ``vat_rate`` defaults to each installment's IVA/interest ratio."""
    restated: list[InstallmentState] = []
    credits: list[Charge] = []
    for state in installments:
        interest, vat = _earned_interest(state, as_of, vat_rate)
        for component, earned in ((Component.INTEREST, interest), (Component.INTEREST_VAT, vat)):
            ahead = state.paid[component] - earned
            if ahead > 0:
                credits.append(Charge(state.number, component, ahead))
        due = {
            **state.due,
            Component.INTEREST: max(interest, state.paid[Component.INTEREST]),
            Component.INTEREST_VAT: max(vat, state.paid[Component.INTEREST_VAT]),
        }
        restated.append(replace(state, due=due))
    totals = {
        component: sum((state.outstanding(component) for state in restated), ZERO)
        for component in Component
    }
    unearned = sum((credit.amount for credit in credits), ZERO)
    return Payoff(
        as_of=as_of,
        principal=totals[Component.PRINCIPAL],
        interest=totals[Component.INTEREST],
        interest_vat=totals[Component.INTEREST_VAT],
        fee=totals[Component.FEE],
        fee_vat=totals[Component.FEE_VAT],
        late_interest=totals[Component.LATE_INTEREST],
        late_interest_vat=totals[Component.LATE_INTEREST_VAT],
        total=sum(totals.values(), ZERO) - unearned,
        installments=tuple(restated),
        unearned_interest_paid=unearned,
        credits=tuple(credits),
    )


def _earned_interest(
    state: InstallmentState, as_of: date, vat_rate: Decimal | None
) -> tuple[Decimal, Decimal]:
    """Interest and its IVA earned by ``as_of`` on one installment (pro rata by days)."""
    interest_due = state.due[Component.INTEREST]
    vat_due = state.due[Component.INTEREST_VAT]
    end = state.period_end or state.due_date
    if end <= as_of:
        return interest_due, vat_due
    start = state.period_start
    if start is None or as_of <= start or interest_due == 0:
        return ZERO, ZERO
    # mexico.md §2.1: interest only for elapsed time, never in advance.
    fraction = Decimal((as_of - start).days) / (end - start).days
    interest = round_centavos(interest_due * fraction)
    rate = vat_due / interest_due if vat_rate is None else vat_rate
    return interest, round_centavos(interest * rate)
