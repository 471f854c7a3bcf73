from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st

from puente.loans.engine import (
    PAYOFF_PRELACION,
    AllocationError,
    AmortizationMethod,
    Charge,
    Component,
    DayCount,
    InstallmentState,
    LoanTerms,
    LoanTermsError,
    OverpaymentMode,
    Periodicity,
    add_charges,
    allocate_payment,
    build_schedule,
    installments_from_schedule,
    payoff_amount,
    reamortize,
)
from puente.money import ZERO

START = date(2026, 1, 15)
FIRST_DUE = date(2026, 2, 15)


def reference_terms(**overrides: Any) -> LoanTerms:
    values: dict[str, Any] = {
        "principal": Decimal(12000),
        "annual_rate": Decimal("0.36"),
        "term_count": 12,
        "start_date": START,
    }
    values.update(overrides)
    return LoanTerms(**values)


def prepay(mode: OverpaymentMode, extra: Decimal = Decimal("3000.00")) -> Any:
    terms = reference_terms()
    states = installments_from_schedule(build_schedule(terms))
    allocation = allocate_payment(states, Decimal("1240.35") + extra, FIRST_DUE, overpayment=mode)
    assert allocation.prepayment == extra
    return reamortize(terms, allocation.installments, allocation.prepayment, mode, FIRST_DUE)


def test_reduce_installment_keeps_the_term_and_lowers_the_installment() -> None:
    result = prepay(OverpaymentMode.REDUCE_INSTALLMENT)
    assert result.balance_before == Decimal("11177.25")
    assert result.balance_after == Decimal("8177.25")
    assert [row.number for row in result.rows] == list(range(2, 13))
    assert result.level < Decimal("1240.35")
    assert {row.total for row in result.rows[:-1]} == {result.level}
    assert sum(row.principal for row in result.rows) == Decimal("8177.25")
    assert result.rows[0].interest == Decimal("245.32")  # 8,177.25 × 3 %: interest drops


def test_reduce_term_keeps_the_installment_and_drops_installments_from_the_end() -> None:
    result = prepay(OverpaymentMode.REDUCE_TERM)
    assert result.level == Decimal("1240.35")
    assert len(result.rows) < 11
    assert {row.total for row in result.rows[:-1]} == {Decimal("1240.35")}
    assert result.rows[-1].total <= Decimal("1240.35")
    assert sum(row.principal for row in result.rows) == Decimal("8177.25")
    numbers = [state.number for state in result.installments]
    assert numbers == list(range(1, len(result.rows) + 2))


def test_prepaying_the_whole_balance_leaves_no_installments_to_come() -> None:
    result = prepay(OverpaymentMode.REDUCE_TERM, Decimal("11177.25"))
    assert result.rows == ()
    assert [state.number for state in result.installments] == [1]
    assert result.installments[0].is_settled


def test_reamortize_refuses_advance_and_oversized_prepayments() -> None:
    terms = reference_terms()
    states = installments_from_schedule(build_schedule(terms))
    with pytest.raises(AllocationError):
        reamortize(terms, states, Decimal(1), OverpaymentMode.ADVANCE, FIRST_DUE)
    with pytest.raises(AllocationError):
        reamortize(terms, states, Decimal(20000), OverpaymentMode.REDUCE_TERM, FIRST_DUE)


def test_payoff_mid_period_charges_interest_only_up_to_the_payoff_date() -> None:
    states = installments_from_schedule(build_schedule(reference_terms()))
    payoff = payoff_amount(states, START + timedelta(days=10))
    assert payoff.principal == Decimal("12000.00")
    assert payoff.interest == Decimal("116.13")  # 360.00 × 10/31 days
    assert payoff.interest_vat == Decimal("18.58")
    assert payoff.total == Decimal("12134.71")


def test_payoff_includes_overdue_installments_and_their_charges() -> None:
    states = add_charges(
        installments_from_schedule(build_schedule(reference_terms())),
        [Charge(1, Component.LATE_INTEREST, Decimal("12.00"))],
    )
    payoff = payoff_amount(states, FIRST_DUE + timedelta(days=5))
    assert payoff.late_interest == Decimal("12.00")
    assert payoff.interest == Decimal("360.00") + Decimal("59.88")  # 335.32 × 5/28
    assert payoff.principal == Decimal("12000.00")


def test_allocating_the_payoff_settles_every_installment_exactly() -> None:
    states = installments_from_schedule(build_schedule(reference_terms()))
    as_of = date(2026, 5, 3)
    payoff = payoff_amount(states, as_of)
    allocation = allocate_payment(payoff.installments, payoff.total, as_of, PAYOFF_PRELACION)
    assert allocation.surplus == ZERO
    assert all(state.is_settled for state in allocation.installments)


def test_interest_paid_early_is_reported_not_charged_twice() -> None:
    states = installments_from_schedule(build_schedule(reference_terms()))
    paid = allocate_payment(states, Decimal("1240.35"), START + timedelta(days=1)).installments
    payoff = payoff_amount(paid, START + timedelta(days=10))
    assert payoff.interest == ZERO
    assert payoff.unearned_interest_paid == Decimal("360.00") - Decimal("116.13") + Decimal(
        "57.60"
    ) - Decimal("18.58")


def _drawn_loan(
    data: st.DataObject,
    method: AmortizationMethod,
    periodicity: Periodicity,
    day_count: DayCount,
) -> tuple[LoanTerms, tuple[InstallmentState, ...]]:
    """Terms drawn over ordinary loans and their installments; terms the engine refuses as
    degenerate (200 % over 36 periods can be) are rejected: the soundness suite tests those."""
    terms = LoanTerms(
        principal=data.draw(st.decimals(min_value=1000, max_value=500000, places=2)),
        annual_rate=data.draw(st.decimals(min_value=0, max_value=2, places=3)),
        term_count=data.draw(st.integers(min_value=2, max_value=36)),
        method=method,
        periodicity=periodicity,
        day_count=day_count,
        start_date=START,
    )
    try:
        schedule = build_schedule(terms)
    except LoanTermsError:
        reject()
    return terms, installments_from_schedule(schedule)


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    method=st.sampled_from(AmortizationMethod),
    periodicity=st.sampled_from(Periodicity),
    day_count=st.sampled_from(DayCount),
    mode=st.sampled_from([OverpaymentMode.REDUCE_TERM, OverpaymentMode.REDUCE_INSTALLMENT]),
)
def test_two_prepayments_leave_the_same_schedule_as_one_of_their_sum(
    data: st.DataObject,
    method: AmortizationMethod,
    periodicity: Periodicity,
    day_count: DayCount,
    mode: OverpaymentMode,
) -> None:
    terms, states = _drawn_loan(data, method, periodicity, day_count)
    balance = sum(state.due[Component.PRINCIPAL] for state in states[1:])
    cents = int(balance * 100)
    first = Decimal(data.draw(st.integers(0, cents))) / 100
    second = Decimal(data.draw(st.integers(0, cents - int(first * 100)))) / 100
    step = reamortize(terms, states, first, mode, START)
    twice = reamortize(terms, step.installments, second, mode, START)
    once = reamortize(terms, states, first + second, mode, START)
    assert twice.installments == once.installments
    assert sum(row.principal for row in once.rows) == balance - first - second


@settings(max_examples=60, deadline=None)
@given(
    data=st.data(),
    method=st.sampled_from(AmortizationMethod),
    day_count=st.sampled_from(DayCount),
)
def test_payoff_on_any_date_settles_the_loan_with_nothing_left_over(
    data: st.DataObject, method: AmortizationMethod, day_count: DayCount
) -> None:
    terms = reference_terms(
        principal=data.draw(st.decimals(min_value=100, max_value=500000, places=2)),
        method=method,
        day_count=day_count,
    )
    states = installments_from_schedule(build_schedule(terms))
    paid_on = START + timedelta(days=data.draw(st.integers(0, 200)))
    paid_amount = Decimal(data.draw(st.integers(0, 500000))) / 100
    states = allocate_payment(states, paid_amount, paid_on).installments
    as_of = paid_on + timedelta(days=data.draw(st.integers(0, 200)))
    payoff = payoff_amount(states, as_of)
    # Interest paid ahead of the days elapsed is credited: it pays the rest.
    available = payoff.total + payoff.unearned_interest_paid
    allocation = allocate_payment(payoff.installments, available, as_of, PAYOFF_PRELACION)
    assert allocation.surplus == ZERO
    assert all(state.is_settled for state in allocation.installments)
    assert payoff.principal == sum(state.outstanding(Component.PRINCIPAL) for state in states)


def test_interest_paid_ahead_is_credited_in_the_payoff() -> None:
    states = installments_from_schedule(build_schedule(reference_terms()))
    as_of = START + timedelta(days=10)
    before = payoff_amount(states, as_of).total
    paid = allocate_payment(states, Decimal("1240.35"), as_of).installments
    after = payoff_amount(paid, as_of)
    assert before - after.total == Decimal("1240.35")
    assert after.credits == (
        Charge(1, Component.INTEREST, Decimal("360.00") - Decimal("116.13")),
        Charge(1, Component.INTEREST_VAT, Decimal("57.60") - Decimal("18.58")),
    )


def _balance(states, advance: Decimal, on: date) -> Decimal:
    return payoff_amount(states, on).total - advance


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    method=st.sampled_from(AmortizationMethod),
    periodicity=st.sampled_from(Periodicity),
    day_count=st.sampled_from(DayCount),
    mode=st.sampled_from(OverpaymentMode),
)
def test_paying_x_up_to_the_payoff_lowers_the_payoff_by_exactly_x(
    data: st.DataObject,
    method: AmortizationMethod,
    periodicity: Periodicity,
    day_count: DayCount,
    mode: OverpaymentMode,
) -> None:
    """mexico.md §2.5: on any day, paying X <= payoff lowers the payoff by exactly X (what the
    service does with a payment below the payoff: prelación, then advance or re-amortize)."""
    terms, states = _drawn_loan(data, method, periodicity, day_count)
    advance = ZERO
    on = START
    for _ in range(data.draw(st.integers(1, 3))):
        on += timedelta(days=data.draw(st.integers(0, 120)))
        balance = _balance(states, advance, on)
        if balance <= Decimal("0.01"):
            return
        # Below the payoff (the payoff itself settles the loan: tested above).
        paid = Decimal(data.draw(st.integers(1, int(balance * 100) - 1))) / 100
        allocation = allocate_payment(states, paid, on, overpayment=mode)
        states, advance = allocation.installments, advance + allocation.advance
        if allocation.prepayment:
            plan = reamortize(terms, states, allocation.prepayment, mode, on)
            states = plan.installments
        assert allocation.unapplied == 0
        assert _balance(states, advance, on) == balance - paid
