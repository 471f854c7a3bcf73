"""Sound schedules only: a level installment on every day count, and no degenerate schedule.

"Sound" (``schedule.check_sound``): one row per period; every installment repays principal,
so every installment is above zero and the balance falls every period to exactly zero;
FRENCH keeps every installment but the last at the level, and the last within what centavo
rounding forces (a centavo per installment for ordinary terms). Anything else is refused as
``LoanTermsError`` naming the field, never a crash and never a degenerate schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puente.loans.engine import (
    AmortizationMethod,
    DayCount,
    LoanTerms,
    LoanTermsError,
    OverpaymentMode,
    Periodicity,
    allocate_payment,
    build_schedule,
    installments_from_schedule,
    reamortize,
)
from puente.loans.engine.schedule import ScheduleRow
from puente.loans.simulation import simulate_loan
from puente.money import CENT

START = date(2026, 1, 15)


def kept(terms: LoanTerms, row: ScheduleRow) -> Decimal:
    """What FRENCH keeps level: the total, or the total before IVA when IVA goes on top."""
    return row.total if terms.embeds_vat else row.principal + row.interest


def last_gap(terms: LoanTerms, rows: Sequence[ScheduleRow]) -> Decimal:
    return abs(kept(terms, rows[-1]) - kept(terms, rows[0]))


def test_actual_360_level_is_solved_on_the_actual_calendar() -> None:
    # mexico.md §2.1: on r/12 the level is 6,348.37 and the last installment 12,643.58.
    terms = LoanTerms(
        principal=Decimal(200000),
        annual_rate=Decimal("0.25"),
        term_count=60,
        start_date=START,
        day_count=DayCount.ACTUAL_360,
    )
    rows = build_schedule(terms).rows
    assert rows[0].total == Decimal("6395.44")
    assert {row.total for row in rows[:-1]} == {rows[0].total}
    assert last_gap(terms, rows) <= CENT * 60


# Ordinary consumer terms: up to 60 % a year for a year of installments, or up to 36 % for
# two. Here a centavo on the level moves the last installment by well under 2 n centavos
# (accumulation), so the last installment must be within a centavo per installment of the
# level, on every day count.
@st.composite
def ordinary_terms(draw: st.DrawFn) -> LoanTerms:
    periodicity = draw(st.sampled_from(Periodicity))
    rate = draw(st.decimals(min_value=0, max_value=Decimal("0.6"), places=4))
    years = 2 if rate <= Decimal("0.36") else 1
    return LoanTerms(
        principal=draw(st.decimals(min_value=1000, max_value=5_000_000, places=2)),
        annual_rate=rate,
        term_count=draw(st.integers(1, years * periodicity.periods_per_year)),
        start_date=draw(st.dates(date(2024, 1, 1), date(2030, 12, 31))),
        periodicity=periodicity,
        day_count=draw(st.sampled_from(DayCount)),
        vat_rate=draw(st.sampled_from([Decimal(0), Decimal("0.16")])),
        vat_in_installment=draw(st.sampled_from([None, False])),
    )


@settings(max_examples=500, deadline=None)
@given(ordinary_terms())
def test_french_last_installment_is_within_a_centavo_per_installment_of_the_level(
    terms: LoanTerms,
) -> None:
    rows = build_schedule(terms).rows
    assert len({kept(terms, row) for row in rows[:-1]}) <= 1
    assert last_gap(terms, rows) <= CENT * len(rows)


@settings(max_examples=100, deadline=None)
@given(terms=ordinary_terms(), share=st.integers(1, 99))
def test_reduce_installment_keeps_the_new_installment_level_on_every_day_count(
    terms: LoanTerms, share: int
) -> None:
    states = installments_from_schedule(build_schedule(terms))
    if len(states) < 3:
        return
    first_due = states[0].due_date
    owed = states[0].due_total
    rest = sum((s.due_total for s in states[1:]), Decimal(0))
    extra = (rest * share / 100).quantize(CENT)
    mode = OverpaymentMode.REDUCE_INSTALLMENT
    allocation = allocate_payment(states, owed + extra, first_due, overpayment=mode)
    plan = reamortize(terms, allocation.installments, allocation.prepayment, mode, first_due)
    if len(plan.rows) < 2:
        return
    assert {kept(terms, row) for row in plan.rows[:-1]} == {plan.level}
    assert abs(kept(terms, plan.rows[-1]) - plan.level) <= CENT * len(plan.rows)


# -- item 9: the whole input space the public simulator accepts ---------------------------

API_SPACE: dict[str, Any] = {
    "principal": st.one_of(
        st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000000"), places=2),
        st.decimals(allow_nan=True, allow_infinity=True),
    ),
    "annual_rate": st.one_of(
        st.decimals(min_value=0, max_value=10, places=4),
        st.sampled_from([Decimal("1e-30"), Decimal("9.9999"), Decimal(10)]),
        st.decimals(allow_nan=True, allow_infinity=True),
    ),
    "term_count": st.integers(-5, 650),
    "periodicity": st.sampled_from([*Periodicity, "YEARLY"]),
    "method": st.sampled_from([*AmortizationMethod, "ITALIAN"]),
    "vat_rate": st.one_of(st.decimals(min_value=0, max_value=1, places=2), st.just(Decimal("NaN"))),
    "opening_fee_rate": st.decimals(min_value=0, max_value=Decimal("1.2"), places=3),
    "day_count": st.sampled_from([*DayCount, "ACTUAL_366"]),
    "start_date": st.dates(date(1, 1, 1), date(9999, 12, 31)),
}


def assert_sound(terms: LoanTerms, rows: Sequence[ScheduleRow]) -> None:
    """The definition above, checked independently of the engine's own check."""
    assert len(rows) == terms.term_count
    assert sum(row.principal for row in rows) == terms.financed_principal
    balance = terms.financed_principal
    for row in rows:
        assert row.principal > 0 and row.total > 0
        assert row.interest >= 0 and row.vat >= 0
        assert row.balance == balance - row.principal
        balance = row.balance
    assert balance == 0
    if terms.method is AmortizationMethod.FRENCH:
        level = kept(terms, rows[0])
        assert all(kept(terms, row) == level for row in rows[:-1])
        assert last_gap(terms, rows) <= max(CENT * len(rows), level / 10)


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries(API_SPACE))
def test_the_simulator_gives_a_sound_schedule_or_names_the_field(inputs: dict[str, Any]) -> None:
    try:
        result = simulate_loan(**inputs)
    except LoanTermsError as refused:
        assert refused.field
        return
    assert_sound(result.schedule.terms, result.schedule.rows)
    assert result.cat >= 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        # 204 installments of 0.00 before: the level cannot beat the interest.
        ({"principal": Decimal(100000), "annual_rate": Decimal(2)}, "term_count"),
        # 519 interest-only rows and a balloon before.
        ({"principal": Decimal(10000), "annual_rate": Decimal(2)}, "term_count"),
        ({"principal": Decimal("NaN")}, "principal"),
        ({"start_date": date(9999, 12, 1)}, "start_date"),
        ({"periodicity": "YEARLY"}, "periodicity"),
    ],
)
def test_degenerate_or_impossible_terms_are_refused_naming_the_field(
    changes: dict[str, Any], field: str
) -> None:
    inputs: dict[str, Any] = {
        "principal": Decimal(10000),
        "annual_rate": Decimal("0.36"),
        "term_count": 520,
        "periodicity": "WEEKLY",
        "start_date": START,
    }
    with pytest.raises(LoanTermsError) as refused:
        simulate_loan(**{**inputs, **changes})
    assert refused.value.field == field


def test_a_vanishing_rate_is_a_zero_rate_schedule_not_a_division_by_zero() -> None:
    result = simulate_loan(
        principal=Decimal(10000),
        annual_rate=Decimal("1e-30"),
        term_count=12,
        periodicity="MONTHLY",
        start_date=START,
    )
    assert_sound(result.schedule.terms, result.schedule.rows)
    assert result.schedule.total_interest == 0 and result.cat == 0


def test_the_latest_start_date_still_fits_the_longest_term() -> None:
    terms = LoanTerms(
        principal=Decimal(600000),
        annual_rate=Decimal("0.02"),
        term_count=600,
        start_date=date(2199, 12, 31),
        day_count=DayCount.ACTUAL_365,
    )
    assert_sound(terms, build_schedule(terms).rows)
    with pytest.raises(LoanTermsError):
        LoanTerms(**{**_fields(terms), "start_date": date(2199, 12, 31) + timedelta(days=1)})


def _fields(terms: LoanTerms) -> dict[str, Any]:
    return {
        "principal": terms.principal,
        "annual_rate": terms.annual_rate,
        "term_count": terms.term_count,
        "day_count": terms.day_count,
    }
