"""Pricing a tuition account on a payment date, and storing the plan it is priced from.

The contract rows of a tuition account hold each colegiatura after the beca. What a payment
on a given day actually owes also depends on that day (``engine.amount_due_on``): the
pronto-pago discount while it is early, the recargo once the grace period has passed. This
module turns that into what the shared machinery understands: installment states priced for
the day, the recargos to charge (``LATE_INTEREST``, posted as LATE_CHARGE entries) and the
discounts that apply if the payment settles the colegiatura (a reduction of ``FEE``).
Values in, values out: the service does the posting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any

from puente.loans.engine import Charge, Component, InstallmentState
from puente.tuition.engine import TuitionCharge, TuitionPlan, amount_due_on

__all__ = [
    "PLAN_KEY",
    "TuitionPricing",
    "plan_from_settings",
    "plan_to_settings",
    "price_installments",
    "priced_for_day",
]

PLAN_KEY = "tuition_plan"  # where the plan lives in Loan.settings


@dataclass(frozen=True)
class TuitionPricing:
    """States priced as of ``on``; the recargos owed by then and the discounts on offer."""

    on: date
    states: tuple[InstallmentState, ...]
    recargos: tuple[Charge, ...]  # not yet charged in the ledger
    discounts: tuple[Charge, ...]  # FEE reductions, granted only if the installment settles
    charges: Mapping[int, TuitionCharge]  # the engine's breakdown per open installment


def price_installments(
    plan: TuitionPlan, states: Sequence[InstallmentState], on: date
) -> TuitionPricing:
    """Re-price the open installments for a payment on ``on`` (settled ones keep their price,
    as ``engine.tuition_installments`` does)."""
    numbers = set(plan.installment_numbers)
    priced: list[InstallmentState] = []
    recargos: list[Charge] = []
    discounts: list[Charge] = []
    breakdown: dict[int, TuitionCharge] = {}
    for state in states:
        if state.is_settled or state.number not in numbers:
            priced.append(state)
            continue
        charge = amount_due_on(plan, state.number, on)
        breakdown[state.number] = charge
        due = dict(state.due)
        # The ledger holds the price after the beca: a discount can only lower it, never
        # below what was already paid on it.
        for component, price in (
            (Component.FEE, charge.amount),
            (Component.FEE_VAT, charge.vat),  # IVA of the discounted price, rounded once
        ):
            lowered = min(due[component], max(price, state.paid[component]))
            if lowered < due[component]:
                discounts.append(Charge(state.number, component, due[component] - lowered))
                due[component] = lowered
        for component, owed in (
            (Component.LATE_INTEREST, charge.surcharge),
            (Component.LATE_INTEREST_VAT, charge.surcharge_vat),
        ):
            if owed > due[component]:
                recargos.append(Charge(state.number, component, owed - due[component]))
                due[component] = owed
        priced.append(replace(state, due=due))
    return TuitionPricing(
        on=on,
        states=tuple(priced),
        recargos=tuple(recargos),
        discounts=tuple(discounts),
        charges=breakdown,
    )


def priced_for_day(
    settings: Mapping[str, Any] | None, states: tuple[InstallmentState, ...], on: date
) -> tuple[InstallmentState, ...]:
    """What each installment owes if paid on ``on``: a tuition account (a plan in its
    ``settings``) priced for that day, any other loan as it is. The one price every door
    offers (nextInstallment, the portal's pay form and quotes) and a payment is charged."""
    plan = plan_from_settings(settings)
    return states if plan is None else price_installments(plan, states, on).states


def plan_to_settings(plan: TuitionPlan) -> dict[str, Any]:
    """The plan as JSON-safe values (decimals and dates as strings) for ``Loan.settings``."""
    return {
        "student_id": plan.student_id,
        "payer_id": plan.payer_id,
        "cycle": plan.cycle,
        "enrolment_fee": str(plan.enrolment_fee),
        "enrolment_due_date": plan.enrolment_due_date.isoformat(),
        "monthly_amount": str(plan.monthly_amount),
        "due_dates": [day.isoformat() for day in plan.due_dates],
        "scholarship_rate": str(plan.scholarship_rate),
        "scholarship_on_enrolment": plan.scholarship_on_enrolment,
        "early_discount_rate": str(plan.early_discount_rate),
        "early_discount_day": plan.early_discount_day,
        "surcharge_amount": str(plan.surcharge_amount),
        "surcharge_rate": str(plan.surcharge_rate),
        "surcharge_grace_days": plan.surcharge_grace_days,
        "vat_rate": str(plan.vat_rate),
    }


def plan_from_settings(settings: Mapping[str, Any] | None) -> TuitionPlan | None:
    """The plan stored by ``plan_to_settings`` under ``PLAN_KEY``, or None."""
    data = (settings or {}).get(PLAN_KEY)
    if not data:
        return None
    return TuitionPlan(
        student_id=data["student_id"],
        payer_id=data["payer_id"],
        cycle=data["cycle"],
        enrolment_fee=Decimal(data["enrolment_fee"]),
        enrolment_due_date=date.fromisoformat(data["enrolment_due_date"]),
        monthly_amount=Decimal(data["monthly_amount"]),
        due_dates=tuple(date.fromisoformat(day) for day in data["due_dates"]),
        scholarship_rate=Decimal(data["scholarship_rate"]),
        scholarship_on_enrolment=bool(data["scholarship_on_enrolment"]),
        early_discount_rate=Decimal(data["early_discount_rate"]),
        early_discount_day=data["early_discount_day"],
        surcharge_amount=Decimal(data["surcharge_amount"]),
        surcharge_rate=Decimal(data["surcharge_rate"]),
        surcharge_grace_days=int(data["surcharge_grace_days"]),
        vat_rate=Decimal(data["vat_rate"]),
    )
