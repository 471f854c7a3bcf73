from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.loans.engine import Component, allocate_payment
from puente.money import ZERO
from puente.tuition.engine import (
    ENROLMENT,
    TUITION_PRELACION,
    TuitionPlan,
    TuitionPlanError,
    allocate_tuition_payment,
    amount_due_on,
    monthly_due_dates,
    tuition_installments,
)


def plan(**overrides: Any) -> TuitionPlan:
    """Colegiatura of 4,000 due the 10th, beca 25 %, 5 % off by the 5th, 10 % recargo after
    a 3-day grace, inscripción 3,500 due 1 August."""
    values: dict[str, Any] = {
        "student_id": "student-17",
        "payer_id": "guardian-4",
        "cycle": "2026-2027",
        "enrolment_fee": Decimal("3500.00"),
        "enrolment_due_date": date(2026, 8, 1),
        "monthly_amount": Decimal("4000.00"),
        "due_dates": monthly_due_dates(date(2026, 9, 10), 10),
        "scholarship_rate": Decimal("0.25"),
        "early_discount_rate": Decimal("0.05"),
        "early_discount_day": 5,
        "surcharge_rate": Decimal("0.10"),
        "surcharge_grace_days": 3,
    }
    values.update(overrides)
    return TuitionPlan(**values)


def test_payer_and_student_are_distinct_identifiers() -> None:
    cycle = plan()
    assert (cycle.student_id, cycle.payer_id) == ("student-17", "guardian-4")
    assert list(cycle.installment_numbers) == list(range(11))
    assert cycle.due_date(10) == date(2027, 6, 10)


def test_early_payment_gets_the_discount_after_the_scholarship() -> None:
    charge = amount_due_on(plan(), 1, date(2026, 9, 5))
    assert (charge.scholarship, charge.discount, charge.amount) == (
        Decimal("1000.00"),
        Decimal("150.00"),
        Decimal("2850.00"),
    )
    assert charge.total == Decimal("2850.00")


def test_after_the_discount_day_the_price_is_the_colegiatura_after_beca() -> None:
    charge = amount_due_on(plan(), 1, date(2026, 9, 6))
    assert (charge.discount, charge.surcharge, charge.total) == (ZERO, ZERO, Decimal("3000.00"))


def test_recargo_starts_after_the_grace_days() -> None:
    assert amount_due_on(plan(), 1, date(2026, 9, 13)).surcharge == ZERO
    charge = amount_due_on(plan(), 1, date(2026, 9, 14))
    assert charge.surcharge == Decimal("300.00")
    assert charge.total == Decimal("3300.00")


def test_fixed_recargo_adds_to_the_percentage() -> None:
    charge = amount_due_on(plan(surcharge_amount=Decimal("150.00")), 1, date(2026, 10, 1))
    assert charge.surcharge == Decimal("450.00")


def test_scholarship_does_not_touch_the_enrolment_fee_unless_configured() -> None:
    assert amount_due_on(plan(), ENROLMENT, date(2026, 7, 1)).total == Decimal("3500.00")
    with_beca = plan(scholarship_on_enrolment=True)
    assert amount_due_on(with_beca, ENROLMENT, date(2026, 7, 1)).total == Decimal("2625.00")


def test_iva_is_zero_by_default_and_configurable() -> None:
    assert amount_due_on(plan(), 1, date(2026, 9, 14)).vat == ZERO
    charge = amount_due_on(plan(vat_rate=Decimal("0.16")), 1, date(2026, 9, 14))
    assert (charge.vat, charge.surcharge_vat) == (Decimal("480.00"), Decimal("48.00"))
    assert charge.total == Decimal("3828.00")


def test_tuition_installments_are_states_the_loan_allocation_engine_understands() -> None:
    on = date(2026, 9, 3)
    states = tuition_installments(plan(), on)
    allocation = allocate_payment(states, Decimal("6350.00"), on, TUITION_PRELACION)
    assert allocation.surplus == ZERO
    assert allocation.installments[0].is_settled  # inscripción 3,500
    assert allocation.installments[1].is_settled  # September with beca and discount, 2,850


def test_a_month_paid_with_the_discount_stays_paid_after_the_discount_day() -> None:
    paid = allocate_tuition_payment(plan(), (), Decimal("6350.00"), date(2026, 9, 3))
    later = tuition_installments(plan(), date(2026, 9, 30), paid.installments)
    assert later[1].is_settled
    assert later[1].due[Component.FEE] == Decimal("2850.00")


def test_a_partly_paid_month_loses_the_discount_after_the_discount_day() -> None:
    paid = allocate_tuition_payment(plan(), (), Decimal("5000.00"), date(2026, 9, 3))
    later = tuition_installments(plan(), date(2026, 9, 8), paid.installments)
    assert later[1].due[Component.FEE] == Decimal("3000.00")
    assert later[1].outstanding_total == Decimal("1500.00")


def test_recargo_is_paid_before_the_colegiatura() -> None:
    paid = allocate_tuition_payment(plan(), (), Decimal("3500.00"), date(2026, 8, 1))
    late = allocate_tuition_payment(plan(), paid.installments, Decimal("500.00"), date(2026, 9, 20))
    assert [(line.installment_number, line.component, line.amount) for line in late.lines] == [
        (1, Component.LATE_INTEREST, Decimal("300.00")),
        (1, Component.FEE, Decimal("200.00")),
    ]


def test_extra_money_pays_the_next_months_at_todays_price() -> None:
    paid = allocate_tuition_payment(plan(), (), Decimal("3500.00"), date(2026, 8, 1))
    ahead = allocate_tuition_payment(
        plan(), paid.installments, Decimal("5700.00"), date(2026, 9, 1)
    )
    months = sorted({line.installment_number for line in ahead.lines})
    assert months == [1, 2]  # September and October, both with the 5 % discount
    assert all(line.in_advance for line in ahead.lines)
    assert ahead.surplus == ZERO


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"monthly_amount": Decimal("-1")}, "monthly_amount"),
        ({"enrolment_fee": Decimal("1.001")}, "enrolment_fee"),
        ({"scholarship_rate": Decimal("1.5")}, "scholarship_rate"),
        ({"due_dates": (date(2026, 10, 10), date(2026, 9, 10))}, "due_dates"),
        ({"due_dates": ()}, "due_dates"),
        ({"early_discount_day": 32}, "early_discount_day"),
        ({"surcharge_grace_days": -1}, "surcharge_grace_days"),
        ({"payer_id": ""}, "student_id"),
    ],
)
def test_invalid_plans_raise_tuition_plan_error(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(TuitionPlanError) as raised:
        plan(**overrides)
    assert raised.value.field == field


def test_unknown_installment_number_is_refused() -> None:
    with pytest.raises(TuitionPlanError):
        amount_due_on(plan(), 11, date(2026, 9, 1))


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    day=st.dates(min_value=date(2026, 7, 1), max_value=date(2027, 8, 1)),
)
def test_tuition_payments_split_any_way_land_on_the_same_state(
    data: st.DataObject, day: date
) -> None:
    cycle = plan(vat_rate=data.draw(st.sampled_from([ZERO, Decimal("0.16")])))
    states = tuition_installments(cycle, day)
    owed = int(sum(state.outstanding_total for state in states) * 100)
    cents = data.draw(st.integers(0, owed + 10000))
    cut = data.draw(st.integers(0, cents))
    first = allocate_payment(states, Decimal(cut) / 100, day, TUITION_PRELACION)
    second = allocate_payment(
        first.installments, Decimal(cents - cut) / 100, day, TUITION_PRELACION
    )
    whole = allocate_payment(states, Decimal(cents) / 100, day, TUITION_PRELACION)
    assert second.installments == whole.installments
    assert first.surplus + second.surplus == whole.surplus
    assert sum(line.amount for line in whole.lines) + whole.surplus == Decimal(cents) / 100


def test_a_full_beca_never_gets_a_recargo() -> None:
    # Nothing is owed on a 100 % beca, so nothing can be late (issue 8, item 12).
    full = plan(scholarship_rate=Decimal("1"), surcharge_amount=Decimal("250.00"))
    charge = amount_due_on(full, 1, date(2026, 10, 30))
    assert charge.amount == 0
    assert (charge.surcharge, charge.surcharge_vat, charge.total) == (ZERO, ZERO, ZERO)


@pytest.mark.parametrize(
    "overrides",
    [
        # Pay by the 15th for pronto pago, but the 10th + 3 days of grace is already late.
        {"early_discount_day": 15},
        # The discount ends on the due date itself is fine; one day after it is not.
        {"early_discount_day": 11, "surcharge_grace_days": 0},
    ],
)
def test_discount_and_recargo_windows_can_never_overlap(overrides: dict[str, Any]) -> None:
    with pytest.raises(TuitionPlanError) as refused:
        plan(**overrides)
    assert refused.value.field == "early_discount_day"


def test_a_discount_ending_on_the_due_date_is_accepted() -> None:
    on_time = plan(early_discount_day=10, surcharge_grace_days=0)
    assert amount_due_on(on_time, 1, date(2026, 9, 10)).discount > 0
    assert amount_due_on(on_time, 1, date(2026, 9, 11)).surcharge > 0


@settings(max_examples=150, deadline=None)
@given(
    discount_day=st.integers(1, 31),
    grace=st.integers(0, 40),
    due_day=st.integers(1, 28),
    offset=st.integers(-40, 80),
    scholarship=st.sampled_from([Decimal(0), Decimal("0.5"), Decimal(1)]),
)
def test_no_day_earns_the_discount_and_owes_a_recargo(
    discount_day: int, grace: int, due_day: int, offset: int, scholarship: Decimal
) -> None:
    try:
        cycle = plan(
            early_discount_day=discount_day,
            surcharge_grace_days=grace,
            due_dates=monthly_due_dates(date(2026, 9, due_day), 10),
            scholarship_rate=scholarship,
            surcharge_amount=Decimal("100.00"),
        )
    except TuitionPlanError as refused:
        assert refused.field == "early_discount_day"
        return
    for number in (1, 5, 10):
        on = cycle.due_date(number) + timedelta(days=offset)
        charge = amount_due_on(cycle, number, on)
        assert not (charge.discount > 0 and charge.surcharge > 0)
        if scholarship == 1:
            assert charge.total == 0
