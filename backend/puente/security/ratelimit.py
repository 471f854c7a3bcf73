"""Login lockout decisions and an in-memory token-bucket rate limiter (both pure of storage)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from puente.security._clock import require_aware

if TYPE_CHECKING:
    from puente.config import Settings

__all__ = [
    "LockoutPolicy",
    "LockoutState",
    "RateDecision",
    "RateLimiter",
    "check_lockout",
]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``max_failures`` within ``window_seconds`` lock the account for ``lockout_seconds``."""

    max_failures: int = 5
    window_seconds: int = 15 * 60
    lockout_seconds: int = 15 * 60

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.window_seconds < 1 or self.lockout_seconds < 1:
            raise ValueError("lockout policy values must be positive")

    @classmethod
    def from_settings(cls, settings: Settings, window_seconds: int = 15 * 60) -> LockoutPolicy:
        """Build the policy from the login lockout settings (``PUENTE_LOGIN_*``)."""
        return cls(settings.login_max_failures, window_seconds, settings.login_lockout_seconds)

    @property
    def retention_seconds(self) -> int:
        """How long a failure can still matter; older ones may be pruned from storage."""
        return self.window_seconds + self.lockout_seconds


@dataclass(frozen=True, slots=True)
class LockoutState:
    """Whether an account is locked now, until when, and failures counting toward the next lock."""

    locked: bool
    locked_until: datetime | None
    failures_in_window: int  # counting toward the next lock (0 while locked)
    remaining_attempts: int  # failures left before the next lock (0 while locked)


def check_lockout(
    policy: LockoutPolicy, failures: Iterable[datetime], now: datetime
) -> LockoutState:
    """Decide from recent failed-login timestamps whether the account is locked at ``now``.

    Pass the failures since the last successful login. Failures recorded while a lock was in
    force are ignored, so hammering the form during a lock does not extend it; once a lock
    expires the count starts again from zero.
    """
    now = require_aware(now)
    times = sorted(require_aware(moment, "failure time") for moment in failures)
    window = timedelta(seconds=policy.window_seconds)
    lockout = timedelta(seconds=policy.lockout_seconds)

    locked_until: datetime | None = None
    counting: list[datetime] = []  # failures since the last lock, inside the sliding window
    for moment in times:
        if moment > now:
            break
        if locked_until is not None and moment < locked_until:
            continue
        counting = [earlier for earlier in counting if moment - earlier < window]
        counting.append(moment)
        if len(counting) >= policy.max_failures:
            # The lock runs from the failure that completed the set, not from the first one.
            locked_until = moment + lockout
            counting = []

    if locked_until is not None and locked_until > now:
        return LockoutState(True, locked_until, 0, 0)
    in_window = sum(1 for moment in counting if now - moment < window)
    return LockoutState(False, None, in_window, policy.max_failures - in_window)


@dataclass(frozen=True, slots=True)
class RateDecision:
    """Whether a request may proceed, and if not, how many seconds until it could."""

    allowed: bool
    retry_after: float = 0.0


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Per-key token bucket: ``capacity`` burst, refilled at ``refill_per_second``.

    In-memory and per-process: good for slowing a login form or a noisy webhook sender on one
    worker; a shared limit across workers needs Redis. Keys idle long enough to be full again
    carry no state, so the least recently used ones are dropped past ``max_keys``.
    """

    def __init__(
        self,
        capacity: float,
        refill_per_second: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if capacity <= 0 or refill_per_second <= 0 or max_keys < 1:
            raise ValueError("capacity, refill_per_second and max_keys must be positive")
        self._capacity = float(capacity)
        self._rate = float(refill_per_second)
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        # Sync Starlette endpoints run in a thread pool, so updates must not interleave.
        self._lock = threading.Lock()

    def hit(self, key: str, cost: float = 1.0) -> RateDecision:
        """Spend ``cost`` tokens from ``key``'s bucket if it has them."""
        if cost <= 0:
            raise ValueError("cost must be positive")
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(tokens=self._capacity, updated=now)
                self._buckets[key] = bucket
                if len(self._buckets) > self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
                elapsed = max(0.0, now - bucket.updated)
                bucket.tokens = min(self._capacity, bucket.tokens + elapsed * self._rate)
                bucket.updated = now
            if bucket.tokens >= cost:
                bucket.tokens -= cost
                return RateDecision(allowed=True)
            if cost > self._capacity:
                return RateDecision(allowed=False, retry_after=float("inf"))
            return RateDecision(allowed=False, retry_after=(cost - bucket.tokens) / self._rate)

    def reset(self, key: str) -> None:
        """Forget ``key`` (e.g. after a successful login)."""
        with self._lock:
            self._buckets.pop(key, None)
