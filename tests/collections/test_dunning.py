"""The retry rules read the decline (pure: no database)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from puente.collections.dunning import (
    Action,
    DunningPolicy,
    classify_decline,
    next_payday,
    plan_retry,
)


def test_insufficient_funds_waits_for_payday() -> None:
    assert classify_decline("insufficient_funds", "insufficient_funds") is Action.RETRY_PAYDAY


def test_expired_stolen_and_do_not_honour_ask_for_another_card() -> None:
    assert classify_decline("expired_card", "expired_card") is Action.NEEDS_METHOD
    assert classify_decline("card_declined", "stolen_card") is Action.NEEDS_METHOD
    assert classify_decline("card_declined", "do_not_honor") is Action.NEEDS_METHOD
    assert classify_decline("card_declined", "3004") is Action.NEEDS_METHOD


def test_outage_and_processing_error_retry_soon() -> None:
    assert classify_decline("card_declined", "processing_error") is Action.RETRY_SOON
    assert classify_decline("provider_unavailable", None) is Action.RETRY_SOON


def test_paydays_are_the_15th_and_the_last_day() -> None:
    assert next_payday(date(2026, 12, 2)) == date(2026, 12, 15)
    assert next_payday(date(2026, 12, 15)) == date(2026, 12, 31)
    assert next_payday(date(2026, 12, 31)) == date(2027, 1, 15)
    assert next_payday(date(2027, 2, 20)) == date(2027, 2, 28)
    assert next_payday(date(2028, 2, 28)) == date(2028, 2, 29)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_next_payday_is_the_first_one_after(day: date) -> None:
    payday = next_payday(day)
    assert payday > day
    is_last = (payday + timedelta(days=1)).month != payday.month
    assert payday.day == 15 or is_last
    between = [day + timedelta(days=n) for n in range(1, (payday - day).days)]
    assert all(d.day != 15 and (d + timedelta(days=1)).month == d.month for d in between)


def test_retries_stop_at_the_product_limit() -> None:
    policy = DunningPolicy.from_settings({"domiciliacion": {"payday_retries": 2}})
    today = date(2026, 12, 2)
    first = plan_retry(policy, Action.RETRY_PAYDAY, today=today, previous={})
    assert first.on == date(2026, 12, 15)
    again = plan_retry(policy, Action.RETRY_PAYDAY, today=today, previous={Action.RETRY_PAYDAY: 1})
    assert again.action is Action.RETRY_PAYDAY
    done = plan_retry(policy, Action.RETRY_PAYDAY, today=today, previous={Action.RETRY_PAYDAY: 2})
    assert done == (done.__class__(Action.EXHAUSTED, None))
    soon = plan_retry(DunningPolicy(), Action.RETRY_SOON, today=today, previous={})
    assert soon.on == today + timedelta(days=1)
    stop = plan_retry(DunningPolicy(), Action.NEEDS_METHOD, today=today, previous={})
    assert stop.on is None


def test_bad_settings_fall_back_to_defaults() -> None:
    policy = DunningPolicy.from_settings({"domiciliacion": {"payday_retries": "x", "soon_days": 0}})
    assert policy == DunningPolicy()
