"""The process-wide dependencies that services receive (settings, cipher, clock, bus)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from puente.config import Settings
from puente.events.bus import EventBus, InMemoryBus, create_bus
from puente.security._clock import require_aware
from puente.security.crypto import FieldCipher, derive_index_key
from puente.security.passwords import DEFAULT_POLICY, PasswordPolicy
from puente.shutdown import StopNotice

__all__ = ["MEXICO_CITY", "Runtime", "mexico_city_date", "utcnow"]

# Due dates, "today" and receipts are in Mexico City time: a payment at 23:30 on the
# due date is on time for the borrower even though it is already tomorrow in UTC.
MEXICO_CITY = ZoneInfo("America/Mexico_City")


def utcnow() -> datetime:
    return datetime.now(UTC)


def mexico_city_date(moment: datetime) -> date:
    """The calendar day ``moment`` falls on in Mexico City (the day loans are due on)."""
    return moment.astimezone(MEXICO_CITY).date()


@dataclass(slots=True)
class Runtime:
    """What every service needs; built once per process from :class:`Settings`."""

    settings: Settings
    cipher: FieldCipher
    index_key: bytes
    password_policy: PasswordPolicy = DEFAULT_POLICY
    clock: Callable[[], datetime] = utcnow
    bus: EventBus = field(default_factory=InMemoryBus)
    extras: dict[str, object] = field(default_factory=dict)
    # Set when the server is asked to stop: live streams end (``shutdown.py``).
    stopping: StopNotice = field(default_factory=StopNotice)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        password_policy: PasswordPolicy = DEFAULT_POLICY,
        clock: Callable[[], datetime] = utcnow,
    ) -> Runtime:
        settings.require_secrets()
        return cls(
            settings=settings,
            cipher=FieldCipher(settings.encryption_keys),
            index_key=derive_index_key(settings.secret_key),
            password_policy=password_policy,
            clock=clock,
            bus=create_bus(settings.redis_url),
        )

    def now(self) -> datetime:
        """The clock's time in UTC.

        Services bind it in filters (``expires_at__gt=now``) and SQLite compares stored
        datetimes as text, so a clock in another zone would compare wrongly; a naive one
        is refused outright.
        """
        return require_aware(self.clock(), "clock()").astimezone(UTC)

    def today(self) -> date:
        """Today in Mexico City, the calendar loans are due on."""
        return mexico_city_date(self.clock())
