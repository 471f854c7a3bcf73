"""A circuit breaker per provider account: stop calling a provider that keeps failing.

closed --(``failure_threshold`` consecutive failures)--> open --(``reset_after`` s)--> half-open
half-open --(probe succeeds)--> closed;  half-open --(probe fails)--> open again.

Only outages count as failures (network errors, timeouts, 5xx). A declined card or a 4xx is
the provider working correctly, so it closes the circuit like any success.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from puente.providers.errors import CircuitOpen

__all__ = [
    "DEFAULT_BREAKERS",
    "CircuitBreaker",
    "CircuitBreakers",
    "CircuitPolicy",
    "CircuitState",
]

Clock = Callable[[], float]


class CircuitState(StrEnum):
    """Where a breaker is in its cycle."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class CircuitPolicy:
    """When to open the circuit and how long to wait before probing."""

    failure_threshold: int = 5
    reset_after: float = 30.0
    half_open_probes: int = 1

    def __post_init__(self) -> None:
        if self.failure_threshold < 1 or self.half_open_probes < 1 or self.reset_after < 0:
            raise ValueError("circuit policy needs threshold >= 1, probes >= 1, reset_after >= 0")


class CircuitBreaker:
    """The breaker for one provider account; share it between connector instances."""

    def __init__(self, key: str, policy: CircuitPolicy, clock: Clock = time.monotonic) -> None:
        self.key = key
        self.policy = policy
        self._clock = clock
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._probes = 0

    def __repr__(self) -> str:
        return f"<CircuitBreaker {self.key} {self.state.value} failures={self._failures}>"

    @property
    def state(self) -> CircuitState:
        """The current state, moving from open to half-open once ``reset_after`` has passed."""
        if (
            self._state is CircuitState.OPEN
            and self._clock() - self._opened_at >= self.policy.reset_after
        ):
            self._state = CircuitState.HALF_OPEN
            self._probes = 0
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        return self._failures

    def before_call(self, provider: str = "") -> None:
        """Raise ``CircuitOpen`` unless a call may go out now."""
        state = self.state
        if state is CircuitState.CLOSED:
            return
        if state is CircuitState.HALF_OPEN and self._probes < self.policy.half_open_probes:
            self._probes += 1
            return
        wait = max(0.0, self.policy.reset_after - (self._clock() - self._opened_at))
        raise CircuitOpen(
            f"circuit open after {self._failures} consecutive failures; not calling for "
            f"{wait:.0f}s",
            provider=provider,
            retry_after=wait,
        )

    def record_success(self) -> None:
        """The provider answered as a working service would."""
        self._state = CircuitState.CLOSED
        self._failures = 0
        self._probes = 0

    def record_failure(self) -> None:
        """The provider failed like an outage would; may open the circuit."""
        self._failures += 1
        if self._state is CircuitState.HALF_OPEN or self._failures >= self.policy.failure_threshold:
            self._state = CircuitState.OPEN
            self._opened_at = self._clock()
            self._probes = 0

    def record_neutral(self) -> None:
        """A call ended without telling us anything (cancelled): free its probe slot."""
        if self._state is CircuitState.HALF_OPEN and self._probes:
            self._probes -= 1


class CircuitBreakers:
    """Breakers by account key, so every connector for one account shares one breaker."""

    def __init__(self) -> None:
        self._breakers: dict[str, CircuitBreaker] = {}

    def get(self, key: str, policy: CircuitPolicy, clock: Clock = time.monotonic) -> CircuitBreaker:
        """The breaker for ``key``, created on first use with ``policy`` and ``clock``."""
        breaker = self._breakers.get(key)
        if breaker is None:
            breaker = self._breakers[key] = CircuitBreaker(key, policy, clock)
        return breaker

    def states(self) -> dict[str, CircuitState]:
        """Each known account key and its state (for health pages)."""
        return {key: breaker.state for key, breaker in self._breakers.items()}

    def clear(self) -> None:
        """Forget all breakers (tests)."""
        self._breakers.clear()


DEFAULT_BREAKERS = CircuitBreakers()
