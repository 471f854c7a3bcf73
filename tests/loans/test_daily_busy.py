"""A busy SQLite ("database is locked", another process writing) does not fail a loan's day:
the day is idempotent and is done again; any other error still fails that loan."""

from __future__ import annotations

from datetime import date

import pytest
from tests.support import factories
from tortoise.exceptions import OperationalError

from puente.loans import jobs

pytestmark = pytest.mark.anyio


@pytest.fixture(autouse=True)
def no_pauses(monkeypatch):
    monkeypatch.setattr(jobs, "BUSY_RETRIES", (0.0, 0.0))


def accrue_failing(errors: list[Exception]):
    real = jobs.accrue_loan

    async def accrue(loan, day):
        if errors:
            raise errors.pop(0)
        return await real(loan, day)

    return accrue


async def test_a_busy_database_is_waited_out(db, runtime, monkeypatch):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    busy = [OperationalError("database is locked"), OperationalError("database is locked")]
    monkeypatch.setattr(jobs, "accrue_loan", accrue_failing(busy))
    report = await jobs.run_daily(date(2026, 12, 2))
    assert (report.loans, report.failures, busy) == (1, [], [])
    assert report.billed == 1  # billed once, though the day was done three times


async def test_other_errors_and_a_database_busy_for_too_long_fail_the_loan(
    db, runtime, monkeypatch
):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    loan = await factories.active_loan(inst, ana, start=date(2026, 11, 2))
    monkeypatch.setattr(jobs, "accrue_loan", accrue_failing([RuntimeError("boom")]))
    assert (await jobs.run_daily(date(2026, 12, 2))).failures == [(loan.id, "RuntimeError")]
    locked = [OperationalError("database is locked") for _ in range(3)]
    monkeypatch.setattr(jobs, "accrue_loan", accrue_failing(locked))
    report = await jobs.run_daily(date(2026, 12, 3))
    assert report.failures == [(loan.id, "OperationalError")]
