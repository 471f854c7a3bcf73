"""The payment state machine: only forward moves; anything else is recorded and ignored.

    CREATED ─► PENDING ⇄ REQUIRES_ACTION ─► PAID ─► PARTIALLY_REFUNDED ─► REFUNDED
        │                                    │  └──────────────────────► CHARGED_BACK
        └──────────────► FAILED | EXPIRED | CANCELED   (terminal)

Webhooks arrive late, twice and out of order; a "pending" after a "paid" must not un-pay a
borrower, so every proposed move is checked here before anything is written.
"""

from __future__ import annotations

from puente.enums import PaymentStatus as S
from puente.providers.values import PaymentStatus as ProviderStatus

__all__ = [
    "AMOUNT_MISMATCH",
    "FINAL",
    "can_transition",
    "from_provider_status",
    "is_forward",
    "paid_amount_mismatch",
]

AMOUNT_MISMATCH = "AMOUNT_MISMATCH"

_RANK = {
    S.CREATED: 0,
    S.PENDING: 1,
    S.REQUIRES_ACTION: 1,
    S.PAID: 2,
    S.FAILED: 2,
    S.EXPIRED: 2,
    S.CANCELED: 2,
    S.PARTIALLY_REFUNDED: 3,
    S.REFUNDED: 4,
    S.CHARGED_BACK: 4,
}

FINAL = frozenset({S.FAILED, S.EXPIRED, S.CANCELED, S.REFUNDED, S.CHARGED_BACK})
_AFTER_PAID = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK})


def can_transition(current: S, proposed: S) -> bool:
    """True when moving ``current`` → ``proposed`` is a real step forward."""
    if current in FINAL:
        return False
    if proposed is S.PARTIALLY_REFUNDED and current is S.PARTIALLY_REFUNDED:
        return True  # a second partial refund
    if proposed in _AFTER_PAID:
        return current in (S.PAID, S.PARTIALLY_REFUNDED)
    if current in (S.PAID, S.PARTIALLY_REFUNDED):
        return False
    if {current, proposed} == {S.PENDING, S.REQUIRES_ACTION}:
        return True  # e.g. 3-D Secure done, now processing
    return _RANK[proposed] > _RANK[current]


def is_forward(current: S, proposed: S) -> bool:
    """Alias for readability at call sites that only log."""
    return can_transition(current, proposed)


_FROM_PROVIDER = {
    ProviderStatus.PENDING: S.PENDING,
    ProviderStatus.REQUIRES_ACTION: S.REQUIRES_ACTION,
    ProviderStatus.SUCCEEDED: S.PAID,
    ProviderStatus.FAILED: S.FAILED,
    ProviderStatus.EXPIRED: S.EXPIRED,
    ProviderStatus.CANCELED: S.CANCELED,
    ProviderStatus.REFUNDED: S.REFUNDED,
    ProviderStatus.PARTIALLY_REFUNDED: S.PARTIALLY_REFUNDED,
    ProviderStatus.CHARGED_BACK: S.CHARGED_BACK,
}


def from_provider_status(status: ProviderStatus) -> S:
    """A connector's normalised status as a Puente payment status."""
    return _FROM_PROVIDER[status]


def paid_amount_mismatch(
    proposed: S, expected_centavos: int, reported_centavos: int | None
) -> bool:
    """True when a provider says PAID for a sum other than the payment's own.

    Whoever brings the news (a signed webhook, the provider's API, the poller), a PAID for
    1.00 on a 150.00 reference is not a payment of 150.00: it is an exception for staff,
    never a silent PAID (nor a silent partial payment).
    """
    return (
        proposed is S.PAID
        and reported_centavos is not None
        and (reported_centavos != expected_centavos)
    )
