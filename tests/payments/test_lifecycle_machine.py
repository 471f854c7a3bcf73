"""The payment state machine, driven by any sequence of provider outcomes (pure, no database).

Whatever order, repetition or lateness the outcomes come in, fed through the same decision
``advance_payment`` applies (``next_state``, with ``from_provider_status`` and
``from_event_kind`` for the status proposed), a payment only moves forward, never leaves a
final state, never un-pays, and never refunds more than it took.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from puente.enums import PaymentStatus as S
from puente.payments.lifecycle import (
    FINAL,
    REFUNDABLE,
    can_transition,
    from_event_kind,
    from_provider_status,
    next_state,
    refund_step,
)
from puente.providers.values import EventKind
from puente.providers.values import PaymentStatus as ProviderStatus

AMOUNT = 124_035  # centavos
RECEIVED = frozenset({S.PAID, S.PARTIALLY_REFUNDED, S.REFUNDED, S.CHARGED_BACK})


class PaymentLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.status = S.CREATED
        self.refunded = 0
        self.history: list[S] = [S.CREATED]

    def _propose(self, proposed: S, reported: int | None = None) -> None:
        before = self.status
        move = next_state(
            before,
            proposed,
            amount_centavos=AMOUNT,
            refunded_centavos=self.refunded,
            reported_refund=reported,
        )
        if move is not None:
            assert before not in FINAL
            assert move.refunded_centavos >= self.refunded
            if move.refunded_centavos > self.refunded:
                assert before in REFUNDABLE
            self.status, self.refunded = move.status, move.refunded_centavos
            self.history.append(move.status)

    @rule(status=st.sampled_from(list(ProviderStatus)), refunded=st.none() | st.integers(0, AMOUNT))
    def provider_says(self, status: ProviderStatus, refunded: int | None) -> None:
        self._propose(from_provider_status(status), refunded or None)

    @rule(kind=st.sampled_from(list(EventKind)))
    def webhook_says(self, kind: EventKind) -> None:
        status = from_event_kind(kind)
        if status is not None:
            self._propose(status)

    @rule(reported=st.integers(min_value=0, max_value=AMOUNT * 2))
    def staff_refund_reported(self, reported: int) -> None:
        self._propose(S.REFUNDED, reported)

    @invariant()
    def refunded_never_exceeds_what_was_paid(self) -> None:
        assert 0 <= self.refunded <= AMOUNT
        if self.status is S.REFUNDED:
            assert self.refunded == AMOUNT
        elif self.status is S.PARTIALLY_REFUNDED:
            assert 0 < self.refunded < AMOUNT

    @invariant()
    def money_received_is_never_unreceived(self) -> None:
        received = [i for i, s in enumerate(self.history) if s in RECEIVED]
        if received:
            assert all(s in RECEIVED for s in self.history[received[0] :])

    @invariant()
    def refunds_only_after_payment(self) -> None:
        if self.refunded:
            assert S.PAID in self.history


TestPaymentLifecycle = PaymentLifecycle.TestCase
TestPaymentLifecycle.settings = settings(max_examples=300, stateful_step_count=30, deadline=None)


def test_a_repeated_status_is_not_a_move() -> None:
    assert all(not can_transition(s, s) for s in S)


def test_a_second_partial_refund_is_decided_on_amounts() -> None:
    first = refund_step(S.PAID, AMOUNT, 0, 10_000)
    assert first is not None and first.status is S.PARTIALLY_REFUNDED
    second = refund_step(S.PARTIALLY_REFUNDED, AMOUNT, 10_000, 20_000)
    assert second is not None and second.status is S.PARTIALLY_REFUNDED
    full = refund_step(S.PARTIALLY_REFUNDED, AMOUNT, 20_000, AMOUNT + 5)
    assert full is not None and full.status is S.REFUNDED and full.refunded_centavos == AMOUNT
    assert refund_step(S.REFUNDED, AMOUNT, AMOUNT, AMOUNT) is None
    assert refund_step(S.PENDING, AMOUNT, 0, 10_000) is None
