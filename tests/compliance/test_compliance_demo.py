"""`puente demo` seeds compliance: lists, FIX rates, a borrower to onboard, an alert to work."""

from __future__ import annotations

import pytest

from puente.accounts.models import User
from puente.compliance.models import AmlAlert, AmlCase, FixRate, WatchlistEntry
from puente.demo import load_demo_data

pytestmark = pytest.mark.anyio


async def test_the_demo_has_a_structuring_alert_for_the_officer(db, runtime):
    await load_demo_data(runtime)
    alert = await AmlAlert.get(rule="STRUCTURING_DAY")
    case = await AmlCase.get(id=alert.case_id)
    assert case.status == "open" and case.report_kind == "inusual"
    assert len(alert.payment_ids) == 2
    assert await WatchlistEntry.filter(kind="bloqueadas").count() == 2
    assert await FixRate.filter(day=runtime.today()).exists()
    assert await User.filter(email="nueva@demo.puente.mx").exists()
