"""Mexican bank business days and the date arithmetic schedules need.

A due date that falls on a day banks are closed moves to the next business day (SOFOM E.N.R.
transparency rules art. 11 fr. IV): the engines ask this module whether a day is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

__all__ = [
    "MEXICO_BANKS",
    "BusinessCalendar",
    "add_months",
    "days_in_month",
    "easter_sunday",
    "mexican_bank_holidays",
]

_ONE_DAY = timedelta(days=1)


def days_in_month(year: int, month: int) -> int:
    """Number of days in a month of the Gregorian calendar."""
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def add_months(start: date, months: int, day: int | None = None) -> date:
    """``start`` moved by whole months, on ``day`` (default: start's day), clamped to month end."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    wanted = start.day if day is None else day
    return date(year, month, min(wanted, days_in_month(year, month)))


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm, Meeus/Jones/Butcher)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _nth_monday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (7 - first.weekday()) % 7  # Monday is weekday 0
    return first + timedelta(days=offset + 7 * (n - 1))


@lru_cache(maxsize=512)
def mexican_bank_holidays(year: int) -> frozenset[date]:
    """Days Mexican banks close in ``year`` (CNBV annual calendar), weekends not included."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1),
        _nth_monday(year, 2, 1),  # Constitution day (LFT art. 74: first Monday of February)
        _nth_monday(year, 3, 3),  # Benito Juárez (third Monday of March)
        easter - timedelta(days=3),  # Holy Thursday: CNBV closes banks
        easter - timedelta(days=2),  # Good Friday
        date(year, 5, 1),
        date(year, 9, 16),
        date(year, 11, 2),  # Día de Muertos: banks close per the CNBV calendar
        _nth_monday(year, 11, 3),  # Revolution day (third Monday of November)
        date(year, 12, 12),  # Virgen de Guadalupe: a bank holiday, not a federal one
        date(year, 12, 25),
    }
    # Presidential transition (LFT art. 74 fr. VII): Oct 1 every six years since the 2024
    # reform; before it the president took office on Dec 1 (2018, 2012, ...).
    if year >= 2024 and (year - 2024) % 6 == 0:
        days.add(date(year, 10, 1))
    elif year < 2024 and (year - 2018) % 6 == 0:
        days.add(date(year, 12, 1))
    return frozenset(days)


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekends plus Mexican bank holidays, with holidays added or removed by configuration."""

    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    removed_holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        # Accept any iterable of dates (lists from settings JSON) but keep the value immutable.
        object.__setattr__(self, "extra_holidays", _frozen_dates(self.extra_holidays))
        object.__setattr__(self, "removed_holidays", _frozen_dates(self.removed_holidays))

    def holidays(self, year: int) -> frozenset[date]:
        """Holidays of ``year`` under this calendar (weekends not listed)."""
        base = mexican_bank_holidays(year) - self.removed_holidays
        return base | {d for d in self.extra_holidays if d.year == year}

    def is_holiday(self, day: date) -> bool:
        """True when ``day`` is a configured or CNBV bank holiday."""
        if day in self.extra_holidays:
            return True
        return day in mexican_bank_holidays(day.year) and day not in self.removed_holidays

    def is_business_day(self, day: date) -> bool:
        """True when banks open on ``day``: a weekday that is not a holiday."""
        return day.weekday() < 5 and not self.is_holiday(day)

    def next_business_day(self, day: date) -> date:
        """``day`` itself if banks open that day, otherwise the first business day after it."""
        while not self.is_business_day(day):
            day += _ONE_DAY
        return day


def _frozen_dates(values: Iterable[date]) -> frozenset[date]:
    result = frozenset(values)
    for value in result:
        if not isinstance(value, date):
            raise TypeError(f"holidays must be dates, got {type(value).__name__}")
    return result


MEXICO_BANKS = BusinessCalendar()
