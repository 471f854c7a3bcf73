from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import assume, given, reject, settings
from hypothesis import strategies as st

from puente.loans.engine import (
    AmortizationMethod,
    CashFlow,
    CatError,
    LoanTerms,
    LoanTermsError,
    Periodicity,
    annual_rate_from_flows,
    build_schedule,
    cat_for_schedule,
    cat_from_flows,
)


def cat_of(**values: Any) -> Decimal:
    values.setdefault("start_date", date(2026, 1, 15))
    values.setdefault("vat_rate", Decimal(0))  # the mexico.md §1.4 vectors carry no IVA
    return cat_for_schedule(build_schedule(LoanTerms(**values)))


def test_cat_example_a_no_fees_is_the_effective_monthly_rate() -> None:
    assert cat_of(principal=Decimal(10000), annual_rate=Decimal("0.60"), term_count=12) == Decimal(
        "79.6"
    )


def test_cat_example_b_withheld_opening_fee_raises_the_cat() -> None:
    cat = cat_of(
        principal=Decimal(10000),
        annual_rate=Decimal("0.60"),
        term_count=12,
        opening_fee_rate=Decimal("0.03"),
    )
    assert cat == Decimal("91.1")


def test_cat_example_c_weekly_payments() -> None:
    terms = {"principal": Decimal(5000), "annual_rate": Decimal("1.04"), "term_count": 16}
    schedule = build_schedule(
        LoanTerms(**terms, periodicity=Periodicity.WEEKLY, start_date=date(2026, 1, 15), vat_rate=0)
    )
    assert schedule.installment_amount == Decimal("368.25")
    assert cat_for_schedule(schedule) == Decimal("180.0")


def test_cat_example_d_quincenal_payments() -> None:
    schedule = build_schedule(
        LoanTerms(
            principal=Decimal(20000),
            annual_rate=Decimal("0.48"),
            term_count=24,
            periodicity=Periodicity.SEMIMONTHLY,
            start_date=date(2026, 1, 1),
            vat_rate=Decimal(0),
        )
    )
    assert schedule.installment_amount == Decimal("1057.42")
    assert cat_for_schedule(schedule) == Decimal("60.8")


def test_cat_example_e_published_cat_within_a_tenth_of_a_point() -> None:
    schedule = build_schedule(
        LoanTerms(
            principal=Decimal(20000),
            annual_rate=Decimal("0.58"),
            term_count=12,
            opening_fee_rate=Decimal("0.05"),
            start_date=date(2020, 6, 26),
            vat_rate=Decimal(0),
        )
    )
    assert schedule.installment_amount == Decimal("2235.35")
    cat = cat_for_schedule(schedule)
    assert cat == Decimal("95.6")  # recomputed in mexico.md §1.4
    assert abs(cat - Decimal("95.7")) <= Decimal("0.1")  # published by the lender


def test_cat_excludes_iva_the_iva_trap_case() -> None:
    # 30,000 MXN, 18 %, 12 months, fee 600 (2 %), IVA 16 % embedded in the installment.
    schedule = build_schedule(
        LoanTerms(
            principal=Decimal(30000),
            annual_rate=Decimal("0.18"),
            term_count=12,
            opening_fee_rate=Decimal("0.02"),
            start_date=date(2026, 1, 15),
        )
    )
    assert schedule.opening_fee == Decimal("600.00")
    assert cat_for_schedule(schedule) == Decimal("24.2")
    # The common bug: IVA left in the flows gives 27.8.
    with_iva = [CashFlow(row.number, row.total) for row in schedule.rows]
    assert cat_from_flows([CashFlow(0, Decimal(29400))], with_iva, 12) == Decimal("27.8")


def test_cat_rounding_mode_is_a_parameter() -> None:
    schedule = build_schedule(
        LoanTerms(
            principal=Decimal(10000),
            annual_rate=Decimal("0.60"),
            term_count=12,
            start_date=date(2026, 1, 15),
            vat_rate=Decimal(0),
        )
    )
    assert cat_for_schedule(schedule, rounding=ROUND_DOWN) == Decimal("79.5")
    assert cat_for_schedule(schedule, rounding=ROUND_HALF_UP) == Decimal("79.6")


def test_financed_fee_costs_more_than_no_fee() -> None:
    base = {
        "principal": Decimal(10000),
        "annual_rate": Decimal("0.60"),
        "term_count": 12,
    }
    financed = cat_of(**base, opening_fee_rate=Decimal("0.03"), opening_fee_financed=True)
    assert Decimal("79.6") < financed < Decimal("91.1")


def test_cat_from_flows_matches_the_schedule_path() -> None:
    payments = [(k, Decimal("1128.25")) for k in range(1, 13)]
    assert cat_from_flows([(0, Decimal(10000))], payments, 12) == Decimal("79.6")
    assert cat_from_flows([(0, Decimal(9700))], payments, 12) == Decimal("91.1")


def test_cat_takes_the_positive_root_closest_to_zero() -> None:
    # -100, +230, -132 has roots at 10 % and 20 % per period (Circular 9/2015: take 10 %).
    flows = cat_from_flows([(0, Decimal(100)), (2, Decimal(132))], [(1, Decimal(230))], 1)
    assert flows == Decimal("10.0")


def test_zero_rate_loan_without_fees_has_zero_cat() -> None:
    assert cat_of(principal=Decimal(1000), annual_rate=Decimal(0), term_count=10) == Decimal("0.0")


def test_flows_with_no_root_raise_cat_error() -> None:
    with pytest.raises(CatError):
        cat_from_flows([(0, Decimal(100))], [], 12)
    with pytest.raises(CatError):
        cat_from_flows([(0, Decimal(100))], [(1, Decimal(100))], 0)


def test_annual_rate_from_flows_is_the_unrounded_rate() -> None:
    rate = annual_rate_from_flows([(0, Decimal(100))], [(1, Decimal(105))], 12)
    assert rate == pytest.approx(1.05**12 - 1, rel=1e-10)


@settings(max_examples=150, deadline=None)
@given(
    principal=st.decimals(min_value=Decimal("10000"), max_value=Decimal("2000000"), places=2),
    annual_rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2"), places=3),
    term_count=st.integers(min_value=2, max_value=60),
    periodicity=st.sampled_from(Periodicity),
    method=st.sampled_from(AmortizationMethod),
    vat_rate=st.sampled_from([Decimal(0), Decimal("0.16")]),
)
def test_cat_of_a_loan_without_fees_is_the_effective_rate(
    principal: Decimal,
    annual_rate: Decimal,
    term_count: int,
    periodicity: Periodicity,
    method: AmortizationMethod,
    vat_rate: Decimal,
) -> None:
    m = periodicity.periods_per_year
    effective = ((1 + annual_rate / m) ** m - 1) * 100
    expected = effective.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    # Interest is rounded to the centavo, which moves the IRR by < 0.005 pp on loans of
    # 10,000+; skip draws whose exact rate sits within 0.01 pp of a rounding boundary.
    assume(abs(effective - expected) < Decimal("0.04"))
    terms = LoanTerms(
        principal=principal,
        annual_rate=annual_rate,
        term_count=term_count,
        periodicity=periodicity,
        method=method,
        vat_rate=vat_rate,
        start_date=date(2026, 1, 15),
    )
    try:
        schedule = build_schedule(terms)
    except LoanTermsError:
        # Rates and terms whose installments barely beat the interest are refused as
        # unsound (schedule.check_sound): no CAT to compare.
        reject()
    assert cat_for_schedule(schedule) == expected
