from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from puente.config import Settings
from puente.security.ratelimit import LockoutPolicy, RateLimiter, check_lockout

POLICY = LockoutPolicy(max_failures=3, window_seconds=600, lockout_seconds=900)
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def _at(*seconds: int) -> list[datetime]:
    return [T0 + timedelta(seconds=s) for s in seconds]


def test_no_failures_means_unlocked_with_all_attempts_left() -> None:
    state = check_lockout(POLICY, [], T0)
    assert (state.locked, state.locked_until, state.remaining_attempts) == (False, None, 3)


def test_failures_below_the_limit_do_not_lock() -> None:
    state = check_lockout(POLICY, _at(0, 10), T0 + timedelta(seconds=20))
    assert (state.locked, state.failures_in_window, state.remaining_attempts) == (False, 2, 1)


def test_reaching_the_limit_locks_until_last_failure_plus_lockout() -> None:
    state = check_lockout(POLICY, _at(0, 10, 20), T0 + timedelta(seconds=21))
    assert state.locked is True
    assert state.locked_until == T0 + timedelta(seconds=20 + 900)


def test_lock_outlives_the_window_that_triggered_it() -> None:
    # 700 s later the failures are outside the 600 s window, but the lock lasts 900 s.
    assert check_lockout(POLICY, _at(0, 10, 20), T0 + timedelta(seconds=720)).locked is True


def test_lock_expires_and_the_count_starts_over() -> None:
    state = check_lockout(POLICY, _at(0, 10, 20), T0 + timedelta(seconds=920))
    assert (state.locked, state.failures_in_window, state.remaining_attempts) == (False, 0, 3)


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    assert check_lockout(POLICY, _at(0, 300, 601), T0 + timedelta(seconds=602)).locked is False


def test_failures_recorded_during_a_lock_do_not_extend_it() -> None:
    state = check_lockout(POLICY, _at(0, 10, 20, 500, 510, 519), T0 + timedelta(seconds=600))
    assert state.locked_until == T0 + timedelta(seconds=920)


def test_relocks_after_a_new_burst_once_the_lock_expired() -> None:
    state = check_lockout(POLICY, _at(0, 10, 20, 1000, 1001, 1002), T0 + timedelta(seconds=1003))
    assert state.locked_until == T0 + timedelta(seconds=1902)


def test_unsorted_input_and_future_failures_are_handled() -> None:
    assert check_lockout(POLICY, _at(20, 0, 10), T0 + timedelta(seconds=30)).locked is True
    assert check_lockout(POLICY, _at(0, 10, 9999), T0 + timedelta(seconds=30)).locked is False


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_lockout(POLICY, [datetime(2025, 1, 1)], T0)


def test_policy_comes_from_settings() -> None:
    policy = LockoutPolicy.from_settings(Settings(login_max_failures=7, login_lockout_seconds=60))
    assert (policy.max_failures, policy.lockout_seconds, policy.retention_seconds) == (7, 60, 960)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_refuses_with_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(capacity=3, refill_per_second=0.5, clock=clock)
    assert [limiter.hit("ip:1").allowed for _ in range(3)] == [True, True, True]
    refused = limiter.hit("ip:1")
    assert refused.allowed is False and refused.retry_after == pytest.approx(2.0)


def test_bucket_refills_with_time() -> None:
    clock = FakeClock()
    limiter = RateLimiter(capacity=2, refill_per_second=1, clock=clock)
    limiter.hit("k"), limiter.hit("k")
    assert limiter.hit("k").allowed is False
    clock.now += 1.0
    assert limiter.hit("k").allowed is True
    clock.now += 100
    assert [limiter.hit("k").allowed for _ in range(3)] == [True, True, False]


def test_keys_have_separate_buckets() -> None:
    limiter = RateLimiter(capacity=1, refill_per_second=1, clock=FakeClock())
    assert limiter.hit("a").allowed and limiter.hit("b").allowed
    assert limiter.hit("a").allowed is False


def test_reset_forgets_a_key() -> None:
    limiter = RateLimiter(capacity=1, refill_per_second=0.01, clock=FakeClock())
    limiter.hit("a")
    limiter.reset("a")
    assert limiter.hit("a").allowed is True


def test_least_recently_used_keys_are_dropped_past_max_keys() -> None:
    limiter = RateLimiter(capacity=1, refill_per_second=0.001, clock=FakeClock(), max_keys=2)
    limiter.hit("a"), limiter.hit("b"), limiter.hit("c")
    # "a" was evicted, so it starts with a full bucket; "c" is still drained.
    assert limiter.hit("a").allowed is True
    assert limiter.hit("c").allowed is False


def test_cost_above_capacity_can_never_pass() -> None:
    decision = RateLimiter(capacity=2, refill_per_second=1, clock=FakeClock()).hit("k", cost=3)
    assert decision.allowed is False and decision.retry_after == float("inf")
