"""The payment state machine: only forward moves; anything else is recorded and ignored.

    CREATED ─► PENDING ⇄ REQUIRES_ACTION ─► PAID ─► PARTIALLY_REFUNDED ─► REFUNDED
        │                                    │  └──────────────────────► CHARGED_BACK
        └──────────────► FAILED | EXPIRED | CANCELED   (terminal)

Webhooks arrive late, twice and out of order; a "pending" after a "paid" must not un-pay a
borrower, so every proposed move is checked here before anything is written.

This module holds the decisions every source of a payment outcome shares (the synchronous
answer, a webhook, the poller, a staff action): which Puente status a provider status means
(``from_provider_status``, the one status table), whether a move is forward
(``can_transition``), what a refund report does (``refund_step``, the one full/partial
decision) and, putting them together, what a proposal does to a payment (``next_state``,
which ``lifecycle_service.advance_payment`` applies). All are pure.
"""

from __future__ import annotations

from dataclasses import dataclass

from puente.enums import PaymentStatus as S
from puente.providers.values import EventKind
from puente.providers.values import PaymentStatus as ProviderStatus

__all__ = [
    "AMOUNT_MISMATCH",
    "FINAL",
    "REFUNDABLE",
    "Move",
    "can_transition",
    "from_event_kind",
    "from_provider_status",
    "next_state",
    "paid_amount_mismatch",
    "refund_step",
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
# Money was received and not all of it given back: a refund or a chargeback may follow.
REFUNDABLE = frozenset({S.PAID, S.PARTIALLY_REFUNDED})
_AFTER_PAID = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK})


def can_transition(current: S, proposed: S) -> bool:
    """True when moving ``current`` → ``proposed`` is a real step forward."""
    if current in FINAL or current is proposed:
        return False
    if proposed in _AFTER_PAID:
        return current in REFUNDABLE
    if current in REFUNDABLE:
        return False
    if {current, proposed} == {S.PENDING, S.REQUIRES_ACTION}:
        return True  # e.g. 3-D Secure done, now processing
    return _RANK[proposed] > _RANK[current]


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

# What a webhook's kind says about the payment, in the providers' own vocabulary; the Puente
# status then comes from the one table above. PAYMENT_REFUNDED is absent on purpose: how much
# was refunded is asked of the provider (``refund_step`` decides on amounts, not on names).
_EVENT_PROVIDER_STATUS = {
    EventKind.PAYMENT_PENDING: ProviderStatus.PENDING,
    EventKind.PAYMENT_REQUIRES_ACTION: ProviderStatus.REQUIRES_ACTION,
    EventKind.PAYMENT_SUCCEEDED: ProviderStatus.SUCCEEDED,
    EventKind.PAYMENT_FAILED: ProviderStatus.FAILED,
    EventKind.PAYMENT_EXPIRED: ProviderStatus.EXPIRED,
    EventKind.PAYMENT_CANCELED: ProviderStatus.CANCELED,
    EventKind.CHARGEBACK: ProviderStatus.CHARGED_BACK,
}


def from_provider_status(status: ProviderStatus) -> S:
    """A connector's normalised status as a Puente payment status."""
    return _FROM_PROVIDER[status]


def from_event_kind(kind: EventKind) -> S | None:
    """The status a webhook of ``kind`` proposes, or None when it proposes none by itself."""
    status = _EVENT_PROVIDER_STATUS.get(kind)
    return from_provider_status(status) if status is not None else None


@dataclass(frozen=True, slots=True)
class Move:
    """A payment's state after a proposal: its status and the cumulative centavos refunded."""

    status: S
    refunded_centavos: int


_REFUNDS = frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED})


def next_state(
    current: S,
    proposed: S,
    *,
    amount_centavos: int,
    refunded_centavos: int,
    reported_refund: int | None = None,
) -> Move | None:
    """What proposing ``proposed`` does to a payment; None when it is ignored.

    ``reported_refund`` is the cumulative refund the provider reports, when it says: with it
    a refund (or a "succeeded" payment some providers keep after a partial refund) is decided
    on amounts by ``refund_step``. A refund proposed without an amount means all of it; a
    partial refund without one says nothing we could book.
    """
    if reported_refund is None and proposed is S.REFUNDED:
        reported_refund = amount_centavos
    if reported_refund is not None and (proposed in _REFUNDS or proposed is S.PAID):
        step = refund_step(current, amount_centavos, refunded_centavos, reported_refund)
        if step is not None:
            return step
    if proposed in _REFUNDS or not can_transition(current, proposed):
        return None
    return Move(proposed, refunded_centavos)


def refund_step(
    current: S, amount_centavos: int, refunded_centavos: int, reported_centavos: int
) -> Move | None:
    """What a provider's cumulative refund report does to a payment; None: nothing new.

    The one full/partial decision: a payment is REFUNDED when everything it paid has been
    given back, PARTIALLY_REFUNDED otherwise, whatever name the provider or staff used. A
    report above the amount paid is capped (a provider never refunds more than it took).
    """
    if current not in REFUNDABLE:
        return None
    total = min(reported_centavos, amount_centavos)
    if total <= refunded_centavos:
        return None
    status = S.REFUNDED if total == amount_centavos else S.PARTIALLY_REFUNDED
    return Move(status, total)


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
