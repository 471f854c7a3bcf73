from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.loans.engine import (
    MEXICO_BANKS,
    Accrual,
    Component,
    DelinquencyBucket,
    InstallmentState,
    LoanTerms,
    MoratoriumBase,
    MoratoriumPolicy,
    accrue,
    accrue_days,
    accrue_range,
    add_charges,
    allocate_payment,
    bucket_for_days,
    build_schedule,
    days_past_due,
    delinquency_bucket,
    installments_from_schedule,
)
from puente.money import ZERO, round_centavos

# Monthly on the 16th: installment 1 falls due on 2026-11-16, a bank holiday (third Monday).
START = date(2026, 10, 16)
DUE = date(2026, 11, 16)
POLICY = MoratoriumPolicy(annual_rate=Decimal("0.72"), vat_rate=Decimal("0.16"))


def states() -> tuple[InstallmentState, ...]:
    terms = LoanTerms(
        principal=Decimal(12000), annual_rate=Decimal("0.36"), term_count=12, start_date=START
    )
    return installments_from_schedule(build_schedule(terms))


@pytest.mark.parametrize(
    ("days", "bucket"),
    [
        (0, DelinquencyBucket.CURRENT),
        (1, DelinquencyBucket.DPD_1_29),
        (29, DelinquencyBucket.DPD_1_29),
        (30, DelinquencyBucket.DPD_30_59),
        (59, DelinquencyBucket.DPD_30_59),
        (60, DelinquencyBucket.DPD_60_89),
        (89, DelinquencyBucket.DPD_60_89),
        (90, DelinquencyBucket.DPD_90_PLUS),
        (400, DelinquencyBucket.DPD_90_PLUS),
    ],
)
def test_delinquency_buckets_by_days_past_due(days: int, bucket: DelinquencyBucket) -> None:
    assert bucket_for_days(days) is bucket


def test_days_past_due_counts_from_the_oldest_unpaid_installment() -> None:
    loan = states()
    assert days_past_due(loan, DUE) == 0
    assert days_past_due(loan, DUE + timedelta(days=45)) == 45
    assert delinquency_bucket(loan, DUE + timedelta(days=45)) is DelinquencyBucket.DPD_30_59


def test_paid_installments_are_not_past_due() -> None:
    paid = allocate_payment(states(), Decimal("1240.35"), DUE).installments
    assert days_past_due(paid, DUE + timedelta(days=10)) == 0


def test_due_date_on_a_holiday_is_not_late_until_the_next_business_day() -> None:
    loan = states()
    assert days_past_due(loan, date(2026, 11, 17), MEXICO_BANKS) == 0
    assert days_past_due(loan, date(2026, 11, 18), MEXICO_BANKS) == 1
    assert accrue(loan, date(2026, 11, 17), POLICY, calendar=MEXICO_BANKS).charges == ()
    assert accrue(loan, date(2026, 11, 18), POLICY, calendar=MEXICO_BANKS).charges != ()


def test_moratorium_is_overdue_principal_times_rate_over_360_plus_iva() -> None:
    accrual = accrue(states(), DUE + timedelta(days=1), POLICY)
    charged = {(c.installment_number, c.component): c.amount for c in accrual.charges}
    # 822.75 × 0.72 / 360 = 1.6455 -> 1.65; IVA 16 % -> 0.26.
    assert charged == {
        (1, Component.LATE_INTEREST): Decimal("1.65"),
        (1, Component.LATE_INTEREST_VAT): Decimal("0.26"),
    }
    assert accrual.total == Decimal("1.91")


def test_moratorium_base_can_include_overdue_interest() -> None:
    policy = MoratoriumPolicy(
        annual_rate=Decimal("0.72"), base=MoratoriumBase.OVERDUE_PRINCIPAL_AND_INTEREST
    )
    accrual = accrue(states(), DUE + timedelta(days=1), policy)
    late = [c for c in accrual.charges if c.component is Component.LATE_INTEREST]
    assert late[0].amount == Decimal("2.37")  # (822.75 + 360.00) × 0.72 / 360


def test_accrual_is_idempotent_for_a_day_already_accrued() -> None:
    day = DUE + timedelta(days=3)
    assert accrue(states(), day, POLICY, accrued_through=day).charges == ()
    assert accrue(states(), day, POLICY, accrued_through=day + timedelta(days=1)).charges == ()
    assert accrue(states(), day, POLICY, accrued_through=day - timedelta(days=1)).charges != ()


def test_nothing_accrues_on_or_before_the_due_date() -> None:
    assert accrue(states(), DUE, POLICY).charges == ()
    assert accrue(states(), START, POLICY).charges == ()


def test_late_fee_is_charged_once_per_overdue_installment_with_its_iva() -> None:
    policy = MoratoriumPolicy(annual_rate=ZERO, late_fee=Decimal("250.00"))
    loan = states()
    first = accrue(loan, DUE + timedelta(days=1), policy)
    assert [(c.component, c.amount) for c in first.charges] == [
        (Component.FEE, Decimal("250.00")),
        (Component.FEE_VAT, Decimal("40.00")),
    ]
    assert accrue(loan, DUE + timedelta(days=2), policy).charges == ()


def test_accrue_range_is_the_sum_of_daily_accruals() -> None:
    loan = states()
    accruals = accrue_range(loan, POLICY, accrued_through=DUE, through=DUE + timedelta(days=10))
    assert len(accruals) == 10
    charged = add_charges(loan, [c for accrual in accruals for c in accrual.charges])
    # Accrued exactly and rounded once: 822.75 × 0.72 / 360 × 10 = 16.455 -> 16.46, IVA
    # 16 % of 16.46 = 2.6336 -> 2.63 (daily rounding gave 16.50 and 2.60: not 16 %).
    assert charged[0].due[Component.LATE_INTEREST] == Decimal("16.46")
    assert charged[0].due[Component.LATE_INTEREST_VAT] == Decimal("2.63")


def test_paid_principal_stops_the_moratorium() -> None:
    loan = states()
    paid = allocate_payment(loan, Decimal("1240.35"), DUE + timedelta(days=2)).installments
    assert accrue(paid, DUE + timedelta(days=3), POLICY).charges == ()


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        MoratoriumPolicy(annual_rate=Decimal("-1"))
    with pytest.raises(ValueError):
        MoratoriumPolicy(annual_rate=Decimal("0.5"), day_basis=300)


@settings(max_examples=80, deadline=None)
@given(
    days=st.integers(1, 120),
    payments=st.lists(st.tuples(st.integers(0, 120), st.integers(1, 200_000)), max_size=4),
    rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3"), places=4),
    vat_rate=st.sampled_from([Decimal(0), Decimal("0.08"), Decimal("0.16")]),
    base=st.sampled_from(MoratoriumBase),
)
def test_moratorium_is_accrued_exactly_and_its_iva_is_that_of_its_rounded_base(
    days: int,
    payments: list[tuple[int, int]],
    rate: Decimal,
    vat_rate: Decimal,
    base: MoratoriumBase,
) -> None:
    """After any day, with payments in between, each installment's moratorium is the exact
    accrual rounded once, and its IVA is round(that × rate): what a CFDI accepts."""
    policy = MoratoriumPolicy(annual_rate=rate, vat_rate=vat_rate, base=base)
    current = states()
    exact = dict.fromkeys((s.number for s in current), Decimal(0))
    paid_on = {DUE + timedelta(days=offset): Decimal(cents) / 100 for offset, cents in payments}
    history: list[tuple[date, tuple[InstallmentState, ...]]] = []
    for offset in range(1, days + 1):
        day = DUE + timedelta(days=offset)
        for state in current:
            if day > state.due_date and state.outstanding_total > 0:
                owed = state.outstanding(Component.PRINCIPAL)
                if base is MoratoriumBase.OVERDUE_PRINCIPAL_AND_INTEREST:
                    owed += state.outstanding(Component.INTEREST)
                exact[state.number] += owed * rate / 360
        history.append((day, current))  # the state at the start of the day, as posted
        (accrual,) = accrue_days(history, policy, emit_after=day - timedelta(days=1)) or (
            Accrual(day, ()),
        )
        current = add_charges(current, accrual.charges)
        for state in current:
            late = state.due[Component.LATE_INTEREST]
            assert late == round_centavos(exact[state.number])
            assert state.due[Component.LATE_INTEREST_VAT] == round_centavos(late * vat_rate)
        if day in paid_on:
            current = allocate_payment(current, paid_on[day], day).installments
