"""The daily job's notices: reminders 3 and 1 days before, overdue, the month's statement;
once per event however often the job runs."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories

from puente.loans.jobs import run_daily
from puente.loans.models import Installment
from puente.notifications.models import DeliveryStatus, Notification
from puente.notifications.service import deliver_due

pytestmark = pytest.mark.anyio


async def kinds_on(day: date, settings) -> list[tuple[str, str]]:
    await run_daily(day, settings=settings)
    rows = await Notification.filter(created_at__isnull=False).order_by("id")
    return [(row.kind, row.dedupe_key) for row in rows]


async def test_reminders_overdue_and_statement_each_once(db, mail_runtime, catcher):
    inst = await factories.institution()
    ana = await factories.user(mail_runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 6, 15))
    first = await Installment.get(loan_id=loan.id, number=1)  # due 2026-07-15
    settings = mail_runtime.settings
    three_before = date.fromordinal(first.due_date.toordinal() - 3)
    after_three = await kinds_on(three_before, settings)
    again = await kinds_on(three_before, settings)
    assert after_three == again  # the same day twice: nothing more
    reminder = [key for kind, key in after_three if kind == "reminder"]
    assert reminder == [f"loan:{loan.id}:n1:{first.due_date}:reminder:3d"]
    statements = [key for kind, key in after_three if kind == "statement"]
    assert statements == [f"loan:{loan.id}:statement:2026-06"]

    one_before = date.fromordinal(first.due_date.toordinal() - 1)
    await run_daily(one_before, settings=settings)
    overdue_day = date.fromordinal(first.due_date.toordinal() + 2)
    await run_daily(overdue_day, settings=settings)
    await run_daily(overdue_day, settings=settings)
    kinds = [row.kind for row in await Notification.all().order_by("id")]
    assert kinds.count("reminder") == 2 and kinds.count("overdue") == 1

    assert await deliver_due(settings, mail_runtime.now()) == len(kinds)
    assert await Notification.filter(status=DeliveryStatus.SENT).count() == len(kinds)
    (statement_mail,) = [m for m in catcher.messages() if "estado de cuenta" in m.subject]
    ((name, mime, content),) = statement_mail.attachments()
    assert name == f"estado-de-cuenta-{loan.id}-2026-06.pdf" and mime == "application/pdf"
    assert content.startswith(b"%PDF")


async def test_without_settings_the_job_stores_no_notice(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    await factories.active_loan(inst, ana, start=date(2026, 6, 15))
    report = await run_daily(date(2026, 7, 12))
    assert report.steps == {} and await Notification.all().count() == 0
