"""The inbox applies a batch's payment events by loan, in one transaction for the batch
(each loan's on its own when that fails), once each, auditing the batch in one append."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories

from puente.audit import service as audit_service
from puente.audit.models import AuditEvent
from puente.audit.service import verify_audit_log
from puente.enums import JournalKind, ProviderEventStatus, ProviderName
from puente.enums import PaymentStatus as S
from puente.ledger.models import JournalEntry
from puente.payments.gateways import GatewayDirectory
from puente.payments.models import Payment
from puente.webhooks.inbox import WebhookInbox
from puente.webhooks.models import ProviderEvent

pytestmark = pytest.mark.anyio


async def _event(payment: Payment, event_id: str, clock) -> ProviderEvent:
    return await ProviderEvent.create(
        provider=ProviderName.STRIPE,
        event_id=event_id,
        event_type="payment_intent.succeeded",
        institution_id=payment.institution_id,
        kind="payment.succeeded",
        provider_payment_id=payment.provider_reference,
        amount_centavos=payment.amount_centavos,
        occurred_at=clock.now,
        raw_body="{}",
        body_authenticated=True,
    )


async def _two_loans(runtime, clock) -> list[Payment]:
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    one = await factories.active_loan(inst, ana, start=date(2026, 10, 20))
    other = await factories.active_loan(inst, ana, start=date(2026, 10, 20))
    payments = []
    for n, loan in enumerate((one, one, other)):
        payment = await factories.payment(
            loan, key=f"k-{n}", amount_centavos=50_000, provider_reference=f"pi_{n}"
        )
        payments.append(payment)
        await _event(payment, f"evt_{n}", clock)
    await _event(payments[0], "evt_again", clock)  # the same payment's news, twice
    return payments


async def test_a_batch_applies_two_loans_payments_once_each(db, runtime, clock, monkeypatch):
    payments = await _two_loans(runtime, clock)
    groups: list[int] = []
    real = WebhookInbox._apply_group

    async def spy(self, loan_id, members, conn=None, held=None):
        groups.append((len(members), conn is not None))
        return await real(self, loan_id, members, conn, held)

    heads: list[int | None] = []
    real_head = audit_service._locked_head

    async def head_spy(institution_id, conn):
        heads.append(institution_id)
        return await real_head(institution_id, conn)

    monkeypatch.setattr(WebhookInbox, "_apply_group", spy)
    monkeypatch.setattr(audit_service, "_locked_head", head_spy)
    inbox = WebhookInbox(runtime, GatewayDirectory(runtime))
    assert await inbox.process_due(limit=50) == 4
    if db == "postgres":
        # Both loans in the batch's transaction, none left to the slow path.
        assert sorted(groups) == [(1, True), (3, True)]
        # The batch's audit entries (one per payment applied) under one head lock.
        assert heads == [payments[0].institution_id]
    else:  # SQLite: one transaction per loan, so the door's acks get in between
        assert sorted(g for g in groups if not g[1]) == [(1, False), (3, False)]
        assert len(heads) == 3  # one per payment applied
    assert await AuditEvent.filter(action="payment.status_changed").count() == 3
    for payment in payments:
        assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 3
    statuses = set(await ProviderEvent.all().values_list("status", flat=True))
    assert statuses == {ProviderEventStatus.PROCESSED}
    report, _ = await verify_audit_log()
    assert report.ok
    assert await inbox.process_due(limit=50) == 0


async def test_a_loan_whose_transaction_fails_is_applied_event_by_event(
    db, runtime, clock, monkeypatch
):
    payments = await _two_loans(runtime, clock)
    tried: list[int] = []

    async def broken(self, loan_id, members):
        tried.append(loan_id)
        raise RuntimeError("the group's transaction failed")

    monkeypatch.setattr(WebhookInbox, "_apply_group", broken)
    inbox = WebhookInbox(runtime, GatewayDirectory(runtime))
    assert await inbox.process_due(limit=50) == 4
    assert sorted(set(tried)) == sorted({p.loan_id for p in payments})
    for payment in payments:
        assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 3


async def test_a_failed_batch_transaction_leaves_nothing_and_each_loan_is_applied_alone(
    db, runtime, clock, monkeypatch
):
    payments = await _two_loans(runtime, clock)
    real = WebhookInbox._apply_group
    alone: list[int] = []

    async def fails_in_the_batch(self, loan_id, members, conn=None, held=None):
        if conn is not None and loan_id == payments[2].loan_id:  # the batch's second loan
            raise RuntimeError("deadlock detected")
        if conn is None:
            alone.append(loan_id)
        return await real(self, loan_id, members, conn, held)

    monkeypatch.setattr(WebhookInbox, "_apply_group", fails_in_the_batch)
    inbox = WebhookInbox(runtime, GatewayDirectory(runtime))
    assert await inbox.process_due(limit=50) == 4
    # The first loan's work in the batch rolled back and was done again on its own: once
    # (SQLite: each loan on its own from the start).
    assert sorted(alone) == sorted({p.loan_id for p in payments})
    for payment in payments:
        assert (await Payment.get(id=payment.id)).status == S.PAID
    assert await JournalEntry.filter(kind=JournalKind.PAYMENT).count() == 3
    assert await AuditEvent.filter(action="payment.status_changed").count() == 3
    report, _ = await verify_audit_log()
    assert report.ok
