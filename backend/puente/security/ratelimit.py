"""Login throttle rules (pure values; ``accounts/throttle.py`` applies them in the database)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from puente.config import Settings

__all__ = ["ThrottleRule", "account_rule", "address_rule"]


@dataclass(frozen=True, slots=True)
class ThrottleRule:
    """At most ``max_attempts`` unsuccessful attempts per ``window_seconds``.

    The attempt that reaches the limit blocks the key for ``window_seconds`` from that moment:
    the lock runs from the failure that completed the set, not from the first one, and
    attempts refused during a lock do not extend it.
    """

    max_attempts: int
    window_seconds: int

    def __post_init__(self) -> None:
        if self.max_attempts < 1 or self.window_seconds < 1:
            raise ValueError("throttle values must be positive")


def account_rule(settings: Settings) -> ThrottleRule:
    """Per account (or per unknown email, so a lock says nothing about who exists)."""
    return ThrottleRule(settings.login_max_failures, settings.login_lockout_seconds)


def address_rule(settings: Settings) -> ThrottleRule:
    """Per client address, across every account it tries."""
    return ThrottleRule(settings.login_ip_max_failures, settings.login_lockout_seconds)
