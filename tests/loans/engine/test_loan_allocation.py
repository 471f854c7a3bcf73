from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.loans.engine import (
    AllocationError,
    AmortizationMethod,
    Charge,
    Component,
    InstallmentState,
    LoanTerms,
    OverpaymentMode,
    Prelacion,
    PrelacionStep,
    Scope,
    add_charges,
    allocate_payment,
    build_schedule,
    installments_from_schedule,
)
from puente.money import ZERO, InvalidAmount

START = date(2026, 1, 15)


def reference_states() -> tuple[InstallmentState, ...]:
    """mexico.md §2.1 loan: 12,000 at 36 %, 12 months, IVA embedded (1,240.35 a month)."""
    terms = LoanTerms(
        principal=Decimal(12000), annual_rate=Decimal("0.36"), term_count=12, start_date=START
    )
    return installments_from_schedule(build_schedule(terms))


def overdue_states() -> tuple[InstallmentState, ...]:
    """Installments 1 and 2 unpaid on 2026-03-20, with a late fee and moratorium on the first."""
    charges = [
        Charge(1, Component.FEE, Decimal("100.00")),
        Charge(1, Component.FEE_VAT, Decimal("16.00")),
        Charge(1, Component.LATE_INTEREST, Decimal("30.00")),
        Charge(1, Component.LATE_INTEREST_VAT, Decimal("4.80")),
    ]
    return add_charges(reference_states(), charges)


TODAY = date(2026, 3, 20)


def amounts(allocation_lines: object) -> list[tuple[int, Component, Decimal]]:
    return [(line.installment_number, line.component, line.amount) for line in allocation_lines]


def test_default_prelacion_pays_fees_then_moratorium_then_interest() -> None:
    allocation = allocate_payment(overdue_states(), Decimal("200.00"), TODAY)
    assert amounts(allocation.lines) == [
        (1, Component.FEE, Decimal("100.00")),
        (1, Component.FEE_VAT, Decimal("16.00")),
        (1, Component.LATE_INTEREST, Decimal("30.00")),
        (1, Component.LATE_INTEREST_VAT, Decimal("4.80")),
        (1, Component.INTEREST, Decimal("42.41")),
        (1, Component.INTEREST_VAT, Decimal("6.79")),
    ]
    assert allocation.surplus == ZERO


def test_no_principal_is_paid_while_overdue_interest_is_unpaid() -> None:
    # Fees 150.80 + interest and IVA of overdue installments 1 and 2 (417.60 + 388.97).
    allocation = allocate_payment(overdue_states(), Decimal("957.37"), TODAY)
    assert allocation.total_for(Component.PRINCIPAL) == ZERO
    assert allocation.total_for(Component.INTEREST) == Decimal("695.32")
    extra = allocate_payment(overdue_states(), Decimal("957.38"), TODAY)
    assert amounts(extra.lines)[-1] == (1, Component.PRINCIPAL, Decimal("0.01"))


def test_overdue_principal_is_paid_oldest_first_before_the_current_installment() -> None:
    allocation = allocate_payment(overdue_states(), Decimal("2500.00"), TODAY)
    principal = [line for line in allocation.lines if line.component is Component.PRINCIPAL]
    assert [(line.installment_number, line.amount) for line in principal] == [
        (1, Decimal("822.75")),
        (2, Decimal("719.88")),  # 2,500 - 957.37 of charges and interest - 822.75
    ]
    assert allocation.installments[0].is_settled
    assert not any(line.installment_number == 3 for line in allocation.lines)


def test_the_current_installment_is_paid_in_full_after_everything_overdue() -> None:
    allocation = allocate_payment(overdue_states(), Decimal("3000.00"), TODAY)
    current = [line for line in allocation.lines if line.installment_number == 3]
    assert [line.component for line in current] == [
        Component.INTEREST,
        Component.INTEREST_VAT,
        Component.PRINCIPAL,
    ]
    assert all(line.in_advance for line in current)


def test_surplus_after_the_current_installment_is_held_in_advance_mode() -> None:
    allocation = allocate_payment(reference_states(), Decimal("1500.00"), date(2026, 2, 10))
    assert allocation.applied == Decimal("1240.35")
    assert allocation.advance == Decimal("259.65")
    assert allocation.prepayment == ZERO
    assert all(line.in_advance for line in allocation.lines)  # paid before its due date


@pytest.mark.parametrize("mode", [OverpaymentMode.REDUCE_TERM, OverpaymentMode.REDUCE_INSTALLMENT])
def test_surplus_is_a_principal_prepayment_in_reduce_modes(mode: OverpaymentMode) -> None:
    allocation = allocate_payment(
        reference_states(), Decimal("1500.00"), date(2026, 2, 15), overpayment=mode
    )
    assert allocation.prepayment == Decimal("259.65")
    assert allocation.unapplied == ZERO
    assert not any(line.in_advance for line in allocation.lines)  # due today


def test_money_beyond_the_whole_loan_is_unapplied() -> None:
    allocation = allocate_payment(
        reference_states(),
        Decimal("20000.00"),
        date(2026, 2, 15),
        overpayment=OverpaymentMode.REDUCE_TERM,
    )
    assert allocation.prepayment == Decimal("11177.25")  # the principal after installment 1
    assert allocation.unapplied == Decimal("20000.00") - Decimal("1240.35") - Decimal("11177.25")


def test_payment_after_the_last_due_date_has_no_future_to_hold_surplus() -> None:
    allocation = allocate_payment(reference_states(), Decimal("50000.00"), date(2028, 1, 1))
    assert all(state.is_settled for state in allocation.installments)
    assert allocation.advance == ZERO
    assert allocation.unapplied == allocation.surplus > 0


def test_a_base_and_its_iva_are_paid_in_proportion() -> None:
    states = add_charges(
        reference_states(),
        [Charge(1, Component.FEE, Decimal(100)), Charge(1, Component.FEE_VAT, Decimal(16))],
    )
    allocation = allocate_payment(states, Decimal("58.00"), TODAY)
    assert amounts(allocation.lines) == [
        (1, Component.FEE, Decimal("50.00")),
        (1, Component.FEE_VAT, Decimal("8.00")),
    ]


def test_a_custom_prelacion_is_followed() -> None:
    principal_first = Prelacion(
        steps=(
            PrelacionStep((Component.PRINCIPAL,), Scope.DUE),
            PrelacionStep((Component.INTEREST, Component.INTEREST_VAT), Scope.ANY),
        )
    )
    allocation = allocate_payment(overdue_states(), Decimal("100.00"), TODAY, principal_first)
    assert amounts(allocation.lines) == [(1, Component.PRINCIPAL, Decimal("100.00"))]


@pytest.mark.parametrize("amount", [Decimal("-1"), Decimal("1.001"), Decimal("NaN")])
def test_invalid_payment_amounts_are_refused(amount: Decimal) -> None:
    with pytest.raises(InvalidAmount):
        allocate_payment(reference_states(), amount, TODAY)


def test_duplicate_installment_numbers_are_refused() -> None:
    states = reference_states()
    with pytest.raises(AllocationError):
        allocate_payment(states + states[:1], Decimal(10), TODAY)


# Property tests: random loans, charges, dates and payments.


@st.composite
def loan_states(draw: st.DrawFn) -> tuple[tuple[InstallmentState, ...], date]:
    terms = LoanTerms(
        principal=draw(st.decimals(min_value=Decimal(500), max_value=Decimal(90000), places=2)),
        annual_rate=draw(st.decimals(min_value=Decimal(0), max_value=Decimal(2), places=3)),
        term_count=draw(st.integers(min_value=1, max_value=8)),
        method=draw(st.sampled_from(AmortizationMethod)),
        vat_rate=draw(st.sampled_from([Decimal(0), Decimal("0.16")])),
        start_date=START,
    )
    states = installments_from_schedule(build_schedule(terms))
    charges = []
    for state in states:
        for component in (Component.FEE, Component.LATE_INTEREST):
            if draw(st.booleans()):
                base = draw(st.decimals(min_value=Decimal("0.01"), max_value=500, places=2))
                charges.append(Charge(state.number, component, base))
                vat = draw(st.sampled_from([ZERO, (base * Decimal("0.16")).quantize(ZERO)]))
                if vat:
                    vat_component = {
                        Component.FEE: Component.FEE_VAT,
                        Component.LATE_INTEREST: Component.LATE_INTEREST_VAT,
                    }[component]
                    charges.append(Charge(state.number, vat_component, vat))
    today = START + timedelta(days=draw(st.integers(min_value=0, max_value=300)))
    return add_charges(states, charges), today


def _amount(draw: st.DrawFn, states: tuple[InstallmentState, ...]) -> Decimal:
    owed = sum(state.outstanding_total for state in states)
    cents = draw(st.integers(min_value=0, max_value=int(owed * 100) + 50000))
    return Decimal(cents) / 100


@settings(max_examples=200, deadline=None)
@given(data=st.data(), scenario=loan_states(), mode=st.sampled_from(OverpaymentMode))
def test_every_allocation_sums_exactly_to_the_amount_paid(
    data: st.DataObject,
    scenario: tuple[tuple[InstallmentState, ...], date],
    mode: OverpaymentMode,
) -> None:
    states, today = scenario
    amount = _amount(data.draw, states)
    allocation = allocate_payment(states, amount, today, overpayment=mode)
    assert sum((line.amount for line in allocation.lines), ZERO) + allocation.surplus == amount
    assert ZERO <= allocation.prepayment + allocation.advance <= allocation.surplus
    assert all(line.amount > 0 for line in allocation.lines)
    for before, after in zip(states, allocation.installments, strict=True):
        assert after.due == before.due
        for component in Component:
            assert ZERO <= after.paid[component] <= after.due[component]
            paid_now = sum(
                line.amount
                for line in allocation.lines
                if line.installment_number == after.number and line.component is component
            )
            assert after.paid[component] - before.paid[component] == paid_now


@settings(max_examples=200, deadline=None)
@given(data=st.data(), scenario=loan_states(), mode=st.sampled_from(OverpaymentMode))
def test_allocating_in_any_split_of_the_same_total_yields_the_same_state(
    data: st.DataObject,
    scenario: tuple[tuple[InstallmentState, ...], date],
    mode: OverpaymentMode,
) -> None:
    states, today = scenario
    amount = _amount(data.draw, states)
    cents = int(amount * 100)
    cuts = sorted(data.draw(st.lists(st.integers(0, cents), max_size=4)))
    parts = [Decimal(b - a) / 100 for a, b in zip([0, *cuts], [*cuts, cents], strict=True)]
    split_state = states
    split_surplus = ZERO
    for part in parts:
        allocation = allocate_payment(split_state, part, today, overpayment=mode)
        split_state = allocation.installments
        split_surplus += allocation.surplus
    whole = allocate_payment(states, amount, today, overpayment=mode)
    assert split_state == whole.installments
    assert split_surplus == whole.surplus
