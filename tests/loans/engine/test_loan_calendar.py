from __future__ import annotations

from datetime import date

import pytest

from puente.loans.engine import MEXICO_BANKS, BusinessCalendar, add_months, easter_sunday


def test_third_monday_of_november_2026_is_a_bank_holiday() -> None:
    assert not MEXICO_BANKS.is_business_day(date(2026, 11, 16))
    assert MEXICO_BANKS.is_business_day(date(2026, 11, 17))


def test_holy_thursday_and_good_friday_2026_are_bank_holidays() -> None:
    assert not MEXICO_BANKS.is_business_day(date(2026, 4, 2))
    assert not MEXICO_BANKS.is_business_day(date(2026, 4, 3))
    assert MEXICO_BANKS.is_business_day(date(2026, 4, 1))


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2024, date(2024, 3, 31)), (2025, date(2025, 4, 20)), (2026, date(2026, 4, 5))],
)
def test_easter_sunday_matches_the_church_calendar(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


@pytest.mark.parametrize(
    "holiday",
    [
        date(2026, 1, 1),
        date(2026, 2, 2),  # first Monday of February
        date(2026, 3, 16),  # third Monday of March
        date(2026, 5, 1),
        date(2026, 9, 16),
        date(2026, 11, 2),  # banks close on Día de Muertos
        date(2026, 12, 12),
        date(2026, 12, 25),
        date(2024, 10, 1),  # presidential transition
        date(2030, 10, 1),
    ],
)
def test_cnbv_bank_holidays_are_not_business_days(holiday: date) -> None:
    assert MEXICO_BANKS.is_holiday(holiday)


def test_presidential_transition_is_only_every_six_years() -> None:
    assert not MEXICO_BANKS.is_holiday(date(2026, 10, 1))
    assert MEXICO_BANKS.is_business_day(date(2026, 10, 1))


def test_weekends_are_not_business_days() -> None:
    assert not MEXICO_BANKS.is_business_day(date(2026, 6, 6))  # Saturday
    assert not MEXICO_BANKS.is_business_day(date(2026, 6, 7))  # Sunday


def test_next_business_day_skips_holy_week_and_the_weekend() -> None:
    assert MEXICO_BANKS.next_business_day(date(2026, 4, 2)) == date(2026, 4, 6)


def test_next_business_day_is_the_same_day_when_banks_open() -> None:
    assert MEXICO_BANKS.next_business_day(date(2026, 4, 1)) == date(2026, 4, 1)


def test_calendar_accepts_extra_and_removed_holidays() -> None:
    calendar = BusinessCalendar(
        extra_holidays=[date(2026, 6, 10)], removed_holidays=[date(2026, 11, 2)]
    )
    assert not calendar.is_business_day(date(2026, 6, 10))
    assert calendar.is_business_day(date(2026, 11, 2))
    assert date(2026, 6, 10) in calendar.holidays(2026)
    assert date(2026, 11, 2) not in calendar.holidays(2026)


def test_add_months_clamps_to_the_end_of_short_months() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 2, 28), 1, day=31) == date(2026, 3, 31)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
