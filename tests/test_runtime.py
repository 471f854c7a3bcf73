"""The runtime's clock: UTC for the database, Mexico City for the calendar loans are due on."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tests.conftest import make_settings

from puente.runtime import MEXICO_CITY, Runtime


def runtime_at(moment: datetime) -> Runtime:
    return Runtime.from_settings(make_settings(), clock=lambda: moment)


def test_now_is_utc_whatever_zone_the_clock_reports() -> None:
    # SQLite compares stored datetimes as text: a filter bound to "-06:00" text would
    # compare wrongly against rows stored in UTC.
    local = datetime(2026, 7, 15, 23, 30, tzinfo=MEXICO_CITY)
    now = runtime_at(local).now()
    assert now.utcoffset() is not None and now.utcoffset().total_seconds() == 0
    assert now == local


def test_a_payment_late_at_night_is_still_on_the_mexico_city_day() -> None:
    late = datetime(2026, 7, 16, 5, 30, tzinfo=UTC)  # 23:30 on the 15th in Mexico City
    assert runtime_at(late).today() == date(2026, 7, 15)


def test_a_naive_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        runtime_at(datetime(2026, 7, 15, 12, 0)).now()
