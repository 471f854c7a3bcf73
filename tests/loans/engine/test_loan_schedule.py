from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy_financial as npf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.loans.engine import (
    MEXICO_BANKS,
    AmortizationMethod,
    DayCount,
    LoanTerms,
    LoanTermsError,
    Periodicity,
    build_schedule,
)
from puente.loans.engine.schedule import level_amount
from puente.money import CENT

START = date(2026, 1, 15)


def reference_terms(**overrides: Any) -> LoanTerms:
    """mexico.md §2.1: 12,000 MXN at 36 % a year, 12 months, IVA 16 %."""
    values: dict[str, Any] = {
        "principal": Decimal("12000"),
        "annual_rate": Decimal("0.36"),
        "term_count": 12,
        "start_date": START,
    }
    values.update(overrides)
    return LoanTerms(**values)


def test_french_with_embedded_iva_matches_reference_installment() -> None:
    assert build_schedule(reference_terms()).installment_amount == Decimal("1240.35")


def test_french_with_embedded_iva_matches_reference_row_1() -> None:
    row = build_schedule(reference_terms()).rows[0]
    assert (row.interest, row.vat, row.principal, row.balance) == (
        Decimal("360.00"),
        Decimal("57.60"),
        Decimal("822.75"),
        Decimal("11177.25"),
    )
    assert row.total == Decimal("1240.35")


def test_french_with_embedded_iva_matches_reference_row_2() -> None:
    row = build_schedule(reference_terms()).rows[1]
    assert (row.interest, row.vat, row.principal) == (
        Decimal("335.32"),
        Decimal("53.65"),
        Decimal("851.38"),
    )


def test_french_without_iva_matches_reference_payment() -> None:
    schedule = build_schedule(reference_terms(vat_rate=Decimal(0)))
    assert schedule.installment_amount == Decimal("1205.55")


def test_french_with_iva_on_top_keeps_the_pre_iva_payment_level() -> None:
    schedule = build_schedule(reference_terms(vat_in_installment=False))
    first = schedule.rows[0]
    assert first.principal + first.interest == Decimal("1205.55")
    assert first.total == Decimal("1205.55") + Decimal("57.60")


def test_german_matches_reference_first_and_last_payment_and_total_interest() -> None:
    schedule = build_schedule(reference_terms(method=AmortizationMethod.GERMAN))
    assert schedule.rows[0].total == Decimal("1417.60")
    assert schedule.rows[-1].total == Decimal("1034.80")
    assert schedule.total_interest == Decimal("2340.00")
    assert {row.principal for row in schedule.rows} == {Decimal("1000.00")}


@pytest.mark.parametrize(
    ("day_count", "interest"),
    [(DayCount.ACTUAL_360, Decimal("516.67")), (DayCount.ACTUAL_365, Decimal("509.59"))],
)
def test_actual_day_count_matches_reference_31_day_interest(
    day_count: DayCount, interest: Decimal
) -> None:
    terms = reference_terms(
        principal=Decimal("10000"),
        annual_rate=Decimal("0.60"),
        term_count=1,
        start_date=date(2026, 1, 1),
        day_count=day_count,
    )
    assert build_schedule(terms).rows[0].interest == interest


def test_withheld_opening_fee_and_its_iva_reduce_the_disbursement() -> None:
    schedule = build_schedule(reference_terms(opening_fee_rate=Decimal("0.02")))
    assert schedule.opening_fee == Decimal("240.00")
    assert schedule.opening_fee_vat == Decimal("38.40")
    assert schedule.disbursed_amount == Decimal("11721.60")
    assert schedule.financed_principal == Decimal("12000.00")


def test_financed_opening_fee_is_added_to_the_principal() -> None:
    schedule = build_schedule(
        reference_terms(opening_fee_rate=Decimal("0.02"), opening_fee_financed=True)
    )
    assert schedule.disbursed_amount == Decimal("12000.00")
    assert schedule.financed_principal == Decimal("12278.40")
    assert sum(row.principal for row in schedule.rows) == Decimal("12278.40")


def test_due_date_on_a_holiday_moves_but_interest_runs_to_the_contractual_date() -> None:
    # The 16th of each month: 2026-11-16 is the third Monday of November (a bank holiday).
    terms = reference_terms(start_date=date(2026, 10, 16), term_count=2, calendar=MEXICO_BANKS)
    row = build_schedule(terms).rows[0]
    assert row.period_end == date(2026, 11, 16)
    assert row.due_date == date(2026, 11, 17)
    assert row.interest == Decimal("360.00")


def test_due_dates_without_calendar_stay_on_the_contractual_date() -> None:
    row = build_schedule(reference_terms(start_date=date(2026, 10, 16))).rows[0]
    assert row.due_date == date(2026, 11, 16)


def test_monthly_due_dates_keep_the_start_day_and_clamp_to_month_end() -> None:
    rows = build_schedule(reference_terms(start_date=date(2026, 1, 31), term_count=3)).rows
    assert [row.due_date for row in rows] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


def test_first_due_date_anchors_the_monthly_dates() -> None:
    rows = build_schedule(reference_terms(first_due_date=date(2026, 3, 1), term_count=3)).rows
    assert [row.due_date for row in rows] == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    assert rows[0].period_start == START


def test_weekly_and_biweekly_due_dates_step_7_and_14_days() -> None:
    weekly = build_schedule(reference_terms(periodicity=Periodicity.WEEKLY, term_count=2)).rows
    biweekly = build_schedule(reference_terms(periodicity=Periodicity.BIWEEKLY, term_count=2)).rows
    assert [row.due_date for row in weekly] == [date(2026, 1, 22), date(2026, 1, 29)]
    assert [row.due_date for row in biweekly] == [date(2026, 1, 29), date(2026, 2, 12)]


def test_semimonthly_due_dates_are_the_15th_and_month_end() -> None:
    terms = reference_terms(
        periodicity=Periodicity.SEMIMONTHLY, term_count=4, start_date=date(2026, 1, 5)
    )
    rows = build_schedule(terms).rows
    assert [row.due_date for row in rows] == [
        date(2026, 1, 15),
        date(2026, 1, 31),
        date(2026, 2, 15),
        date(2026, 2, 28),
    ]


def test_zero_rate_loan_splits_principal_evenly() -> None:
    schedule = build_schedule(reference_terms(annual_rate=Decimal(0), principal=Decimal("100")))
    assert schedule.total_interest == 0
    assert [row.principal for row in schedule.rows][:2] == [Decimal("8.33"), Decimal("8.33")]
    assert schedule.rows[-1].principal == Decimal("8.37")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"principal": Decimal("0")}, "principal"),
        ({"principal": Decimal("-5")}, "principal"),
        ({"principal": Decimal("10.001")}, "principal"),
        ({"principal": 1000.0}, "principal"),
        ({"annual_rate": Decimal("-0.01")}, "annual_rate"),
        ({"annual_rate": Decimal("10.5")}, "annual_rate"),
        ({"term_count": 0}, "term_count"),
        ({"term_count": 601}, "term_count"),
        ({"vat_rate": Decimal("1.5")}, "vat_rate"),
        ({"periodicity": "YEARLY"}, "periodicity"),
        ({"method": AmortizationMethod.GERMAN, "vat_in_installment": True}, "vat_in_installment"),
        ({"first_due_date": START}, "first_due_date"),
        (
            {"periodicity": Periodicity.SEMIMONTHLY, "first_due_date": date(2026, 2, 3)},
            "first_due_date",
        ),
        ({"opening_fee_rate": Decimal("0.9")}, "opening_fee_rate"),
    ],
)
def test_invalid_terms_raise_loan_terms_error_naming_the_field(
    overrides: dict[str, Any], field: str
) -> None:
    with pytest.raises(LoanTermsError) as raised:
        reference_terms(**overrides)
    assert raised.value.field == field
    assert isinstance(raised.value, ValueError)


def test_enum_values_from_the_database_are_accepted() -> None:
    terms = reference_terms(periodicity="WEEKLY", method="GERMAN", day_count="ACTUAL_360")
    assert terms.periodicity is Periodicity.WEEKLY
    assert terms.method is AmortizationMethod.GERMAN


principals = st.decimals(min_value=Decimal("100"), max_value=Decimal("5000000"), places=2)
rates = st.decimals(min_value=Decimal("0"), max_value=Decimal("3"), places=4)
vat_rates = st.sampled_from([Decimal("0"), Decimal("0.08"), Decimal("0.16")])


@st.composite
def loan_terms(draw: st.DrawFn) -> LoanTerms:
    return LoanTerms(
        principal=draw(principals),
        annual_rate=draw(rates),
        term_count=draw(st.integers(min_value=1, max_value=120)),
        start_date=draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))),
        periodicity=draw(st.sampled_from(Periodicity)),
        method=draw(st.sampled_from(AmortizationMethod)),
        vat_rate=draw(vat_rates),
        day_count=draw(st.sampled_from(DayCount)),
        opening_fee_rate=draw(st.sampled_from([Decimal(0), Decimal("0.03")])),
        opening_fee_financed=draw(st.booleans()),
        calendar=draw(st.sampled_from([None, MEXICO_BANKS])),
    )


@settings(max_examples=150, deadline=None)
@given(loan_terms())
def test_schedule_principal_sums_exactly_and_final_balance_is_zero(terms: LoanTerms) -> None:
    try:
        schedule = build_schedule(terms)
    except LoanTermsError as refused:
        # Up to 300 % for 120 periods includes terms whose installments barely beat the
        # interest: those are refused as unsound (test_loan_schedule_soundness.py).
        assert refused.field == "term_count"
        return
    assert sum(row.principal for row in schedule.rows) == schedule.financed_principal
    assert schedule.rows[-1].balance == 0
    assert len(schedule.rows) == terms.term_count
    for row in schedule.rows:
        assert row.principal >= 0 and row.interest >= 0 and row.vat >= 0 and row.balance >= 0
        assert row.total == row.principal + row.interest + row.vat
        assert row.due_date >= row.period_end
    assert schedule.total_paid == sum(row.total for row in schedule.rows)


def _npf_payment(principal: Decimal, rate: Decimal, count: int) -> Decimal | None:
    """numpy_financial's PMT rounded half-up, or None when too close to a half centavo."""
    exact = float(-npf.pmt(float(rate), count, float(principal)))
    cents = exact * 100
    if abs(cents - int(cents) - 0.5) < 1e-6:
        return None  # float noise could round either way; skip the tie
    return Decimal(repr(exact)).quantize(CENT, rounding=ROUND_HALF_UP)


@settings(max_examples=300, deadline=None)
@given(
    principal=principals,
    annual_rate=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3"), places=4),
    term_count=st.integers(min_value=1, max_value=360),
    periodicity=st.sampled_from(Periodicity),
    vat_rate=vat_rates,
)
def test_french_installment_matches_numpy_financial_pmt_to_the_centavo(
    principal: Decimal,
    annual_rate: Decimal,
    term_count: int,
    periodicity: Periodicity,
    vat_rate: Decimal,
) -> None:
    common = {
        "principal": principal,
        "annual_rate": annual_rate,
        "term_count": term_count,
        "periodicity": periodicity,
        "vat_rate": vat_rate,
        "start_date": START,
    }
    rate = annual_rate / periodicity.periods_per_year
    plain = LoanTerms(**common, vat_in_installment=False)
    expected = _npf_payment(principal, rate, term_count)
    if expected is not None:
        assert level_amount(plain, principal, term_count) == expected
    embedded = LoanTerms(**common)
    expected = _npf_payment(principal, rate * (1 + vat_rate), term_count)
    if expected is not None:
        assert level_amount(embedded, principal, term_count) == expected


def test_french_schedule_uses_the_level_installment_in_every_row_but_the_last() -> None:
    schedule = build_schedule(reference_terms(principal=Decimal("250000"), term_count=48))
    level = level_amount(schedule.terms, Decimal("250000"), 48)  # PERIODIC: a count will do
    assert {row.total for row in schedule.rows[:-1]} == {level}
