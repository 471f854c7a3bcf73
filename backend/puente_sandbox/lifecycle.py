"""The one simulated payment lifecycle every simulator follows; providers add only a dialect.

    requires_action ──► succeeded ──► partially_refunded ──► refunded
          │                 │                 │
          ├──► failed       └──────► disputed ◄┘
          ├──► expired
          └──► canceled

What is decided here, once for all providers: which step may follow which, whether a payment
may be refunded, how much a refund may take and whether it leaves the payment refunded or
partially refunded (on cumulative amounts), what a dispute takes back (what was not already
refunded), and when a waiting reference has lapsed. A provider's dialect says what its
statuses are called (``Dialect``), how its objects and events look and how it refuses; amounts
are in the provider's own unit (centavos or pesos), which these rules never convert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

__all__ = [
    "Dialect",
    "LifecycleRefusal",
    "Phase",
    "RefundStep",
    "check_refundable",
    "check_step",
    "disputed_amount",
    "lapsed",
    "refund_step",
]

Amount = TypeVar("Amount", int, Decimal)


class Phase(StrEnum):
    """Where a simulated payment is, whatever the provider calls it."""

    REQUIRES_ACTION = "requires_action"  # a voucher, a CLABE or an approval waits for the payer
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"


_REFUNDABLE = frozenset({Phase.SUCCEEDED, Phase.PARTIALLY_REFUNDED})
_NEXT: Mapping[Phase, frozenset[Phase]] = {
    Phase.REQUIRES_ACTION: frozenset(
        {Phase.SUCCEEDED, Phase.FAILED, Phase.EXPIRED, Phase.CANCELED}
    ),
    Phase.SUCCEEDED: frozenset({Phase.PARTIALLY_REFUNDED, Phase.REFUNDED, Phase.DISPUTED}),
    Phase.PARTIALLY_REFUNDED: frozenset({Phase.PARTIALLY_REFUNDED, Phase.REFUNDED, Phase.DISPUTED}),
}


class LifecycleRefusal(Exception):
    """A step the lifecycle does not allow; the dialect turns ``reason`` into its own error.

    Reasons: ``not_waiting`` (nothing to pay, expire or cancel), ``not_refundable``,
    ``fully_refunded``, ``not_positive``, ``exceeds_remaining`` (``remaining`` says how much
    is left), ``not_disputable``.
    """

    def __init__(self, reason: str, phase: Phase | None, remaining: int | Decimal | None = None):
        super().__init__(reason)
        self.reason = reason
        self.phase = phase
        self.remaining = remaining


@dataclass(frozen=True, slots=True)
class Dialect:
    """A provider's names for the phases (several statuses may mean one phase).

    ``written`` names a phase the provider has no status of its own for (Mercado Pago and
    Openpay leave a partly refunded payment ``approved`` / ``completed``).
    """

    statuses: Mapping[str, Phase]
    written: Mapping[Phase, str] = field(default_factory=dict)

    def phase(self, status: str) -> Phase | None:
        """The phase a provider status means (None for a status outside the lifecycle)."""
        return self.statuses.get(status)

    def status(self, phase: Phase) -> str:
        """The provider's name for ``phase``."""
        if phase in self.written:
            return self.written[phase]
        return next(name for name, named in self.statuses.items() if named is phase)


def check_step(current: Phase | None, proposed: Phase) -> Phase:
    """``proposed`` if it may follow ``current``; else ``LifecycleRefusal("not_waiting")``."""
    if current is None or proposed not in _NEXT.get(current, frozenset()):
        reason = "not_waiting" if current is not Phase.SUCCEEDED else "not_refundable"
        raise LifecycleRefusal(reason, current)
    return proposed


def check_refundable(current: Phase | None) -> Phase:
    """``current`` if a refund may be asked for; a refusal naming why not otherwise."""
    if current is Phase.REFUNDED:
        raise LifecycleRefusal("fully_refunded", current)
    if current not in _REFUNDABLE:
        raise LifecycleRefusal("not_refundable", current)
    return current


@dataclass(frozen=True, slots=True)
class RefundStep:
    """One refund: what it takes, what has been refunded with it, and the phase after."""

    amount: int | Decimal
    refunded: int | Decimal  # cumulative, this refund included
    remaining: int | Decimal
    phase: Phase


def refund_step(
    current: Phase | None, total: Amount, refunded: Amount, requested: Amount | None
) -> RefundStep:
    """A refund of ``requested`` (all that is left when None) on cumulative amounts."""
    check_refundable(current)
    remaining = total - refunded
    if remaining <= 0:
        raise LifecycleRefusal("fully_refunded", current)
    amount = remaining if requested is None else requested
    if amount <= 0:
        raise LifecycleRefusal("not_positive", current, remaining)
    if amount > remaining:
        raise LifecycleRefusal("exceeds_remaining", current, remaining)
    after = refunded + amount
    full = after == total
    return RefundStep(
        amount, after, total - after, Phase.REFUNDED if full else Phase.PARTIALLY_REFUNDED
    )


def disputed_amount(current: Phase | None, total: Amount, refunded: Amount) -> Amount:
    """What a chargeback takes back: the part of a paid payment not already refunded."""
    if current not in _REFUNDABLE:
        raise LifecycleRefusal("not_disputable", current)
    return total - refunded


def lapsed(current: Phase | None, expires_at: float | None, now: float) -> bool:
    """True when a waiting reference is past its expiry (and so must expire now)."""
    return current is Phase.REQUIRES_ACTION and expires_at is not None and expires_at < now
