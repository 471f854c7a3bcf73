"""Notices are stored once, sent by real SMTP, retried when the server fails, and respect
the person's channels."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.support import factories

from puente.enums import PaymentMethodType
from puente.enums import PaymentStatus as S
from puente.notifications import drain_deliveries, send_notice
from puente.notifications.models import DeliveryStatus, Notification, NotificationPreference
from puente.notifications.payment_notices import send_mandate_confirmation
from puente.notifications.service import MAX_ATTEMPTS, deliver_due
from puente.payments.observers import register_transition_observer
from puente.payments.outcomes import advance_and_notify

pytestmark = pytest.mark.anyio


async def wait_for_mail(catcher, count: int) -> None:
    for _ in range(100):
        if len(catcher.messages()) >= count:
            return
        await asyncio.sleep(0.02)


async def borrower_loan(runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    return ana, await factories.active_loan(inst, ana)


async def test_a_notice_is_sent_by_smtp_once_per_dedupe_key(db, mail_runtime, catcher):
    ana, loan = await borrower_loan(mail_runtime)
    context = {
        "credito": "Préstamo #1",
        "credito_id": loan.id,
        "numero": 2,
        "vence": loan.start_date,
        "monto": "1240.35",
        "dias": 3,
    }
    notice = {
        "kind": "reminder",
        "user_id": ana.id,
        "loan_id": loan.id,
        "context": context,
        "dedupe_key": "k-1",
    }
    first = await send_notice(mail_runtime, **notice)
    again = await send_notice(mail_runtime, **notice)
    await drain_deliveries()
    await wait_for_mail(catcher, 1)
    assert len(first) == 1 and again == []
    (mail,) = catcher.messages()
    assert mail.recipients == ("ana@example.mx",)
    assert mail.subject == "Tu pago de $1,240.35 MXN vence en 3 días"
    assert "vence el" in (mail.part("plain") or "")
    row = await Notification.get(id=first[0].id)
    assert row.status is DeliveryStatus.SENT and row.provider_id and row.attempts == 1


async def test_an_opted_out_borrower_gets_nothing_but_a_reset_link(db, mail_runtime, catcher):
    ana, loan = await borrower_loan(mail_runtime)
    await NotificationPreference.create(user_id=ana.id, opted_out=True)
    context = {
        "credito": "x",
        "credito_id": loan.id,
        "numero": 1,
        "vence": loan.start_date,
        "monto": "10.00",
    }
    assert (
        await send_notice(
            mail_runtime, kind="overdue", user_id=ana.id, context=context, dedupe_key="o-1"
        )
        == []
    )
    sent = await send_notice(
        mail_runtime,
        kind="password_reset",
        user_id=ana.id,
        context={"enlace": "http://x/recuperar/t", "minutos": 60},
        dedupe_key="r-1",
    )
    assert [row.channel for row in sent] == ["email"]


async def test_a_failed_delivery_is_retried_then_given_up(db, mail_runtime, catcher, clock):
    ana, loan = await borrower_loan(mail_runtime)
    catcher.stop()  # the mail server is down
    context = {
        "credito": "x",
        "credito_id": loan.id,
        "numero": 1,
        "vence": loan.start_date,
        "monto": "10.00",
    }
    (row,) = await send_notice(
        mail_runtime, kind="overdue", user_id=ana.id, context=context, dedupe_key="f-1"
    )
    await drain_deliveries()
    row = await Notification.get(id=row.id)
    assert row.status is DeliveryStatus.PENDING and row.attempts == 1 and row.last_error
    assert row.next_attempt_at > mail_runtime.now()
    # Not due yet: the outbox pass leaves it alone.
    assert await deliver_due(mail_runtime.settings, mail_runtime.now()) == 0
    for _ in range(MAX_ATTEMPTS):
        clock.now += timedelta(hours=1)
        await deliver_due(mail_runtime.settings, mail_runtime.now())
    row = await Notification.get(id=row.id)
    assert row.status is DeliveryStatus.FAILED and row.attempts == MAX_ATTEMPTS


async def test_payment_transitions_send_instructions_receipt_and_decline(db, mail_runtime, catcher):
    ana, loan = await borrower_loan(mail_runtime)
    spei = await factories.payment(loan, key="p-spei", status=S.CREATED)
    action = {
        "type": "SPEI_TRANSFER",
        "clabe": "646180157000000004",
        "bank": "STP",
        "reference": "1234567",
    }
    now = mail_runtime.now()
    await advance_and_notify(
        mail_runtime, spei.id, S.REQUIRES_ACTION, source="test", at=now, next_action=action
    )
    card = await factories.payment(
        loan, key="p-card", status=S.CREATED, method=PaymentMethodType.CARD
    )
    await advance_and_notify(
        mail_runtime, card.id, S.FAILED, source="test", at=now, failure_code="insufficient_funds"
    )
    await advance_and_notify(mail_runtime, spei.id, S.PAID, source="test", at=now)
    await drain_deliveries()
    await wait_for_mail(catcher, 3)
    by_kind = {row.kind: row for row in await Notification.all()}
    assert set(by_kind) == {"payment_instructions", "payment_declined", "receipt"}
    assert "646180157000000004" in by_kind["payment_instructions"].body_text
    assert "fondos suficientes" in by_kind["payment_declined"].body_text
    assert by_kind["receipt"].payment_id == spei.id
    subjects = sorted(mail.subject for mail in catcher.messages())
    assert subjects == sorted(
        [
            "Instrucciones para tu pago de $1,240.35 MXN",
            "Recibimos tu pago de $1,240.35 MXN",
            "Tu pago de $1,240.35 MXN no se completó",
        ]
    )


async def test_a_mandate_confirmation_names_the_card_and_is_sent_once(db, mail_runtime, catcher):
    ana, loan = await borrower_loan(mail_runtime)
    signed = {
        "mandate_id": 7,
        "loan": loan,
        "card": "Visa •••• 4242",
        "text_version": "2026-11",
        "accepted_at": mail_runtime.now(),
    }
    await send_mandate_confirmation(mail_runtime, **signed)
    await send_mandate_confirmation(mail_runtime, **signed)
    await drain_deliveries()
    await wait_for_mail(catcher, 1)
    (row,) = await Notification.filter(kind="mandate_confirmation")
    assert row.dedupe_key == "mandate:7:confirmation" and "Visa •••• 4242" in row.body_text
    assert [m.subject for m in catcher.messages()] == [
        f"Domiciliación activada para Préstamo personal #{loan.id}"
    ]


async def test_an_observer_that_fails_never_breaks_the_payment(db, mail_runtime):
    _, loan = await borrower_loan(mail_runtime)
    payment = await factories.payment(loan, key="p-obs", status=S.CREATED)

    def broken(runtime, transition) -> None:
        raise RuntimeError("observer down")

    register_transition_observer("broken-for-test", broken)
    try:
        transition = await advance_and_notify(
            mail_runtime, payment.id, S.FAILED, source="test", at=mail_runtime.now()
        )
    finally:
        register_transition_observer("broken-for-test", lambda runtime, transition: None)
    await drain_deliveries()
    assert transition.applied and transition.after is S.FAILED
    assert await Notification.filter(kind="payment_declined").count() == 1
