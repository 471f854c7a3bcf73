from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from puente.loans.engine import (
    MEXICO_BANKS,
    Component,
    DelinquencyBucket,
    InstallmentState,
    LoanTerms,
    MoratoriumBase,
    MoratoriumPolicy,
    accrue,
    accrue_range,
    add_charges,
    allocate_payment,
    bucket_for_days,
    build_schedule,
    days_past_due,
    delinquency_bucket,
    installments_from_schedule,
)
from puente.money import ZERO

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
    assert charged[0].due[Component.LATE_INTEREST] == Decimal("16.50")
    assert charged[0].due[Component.LATE_INTEREST_VAT] == Decimal("2.60")


def test_paid_principal_stops_the_moratorium() -> None:
    loan = states()
    paid = allocate_payment(loan, Decimal("1240.35"), DUE + timedelta(days=2)).installments
    assert accrue(paid, DUE + timedelta(days=3), POLICY).charges == ()


def test_invalid_policy_is_refused() -> None:
    with pytest.raises(ValueError):
        MoratoriumPolicy(annual_rate=Decimal("-1"))
    with pytest.raises(ValueError):
        MoratoriumPolicy(annual_rate=Decimal("0.5"), day_basis=300)
