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


async def test_the_officer_works_the_demos_structuring_case_to_a_report_file(db, runtime):
    """Issue 14's "done when": the seeded pattern's case, worked to the unusual-operation file."""
    from puente.compliance.reports import file_case_report

    await load_demo_data(runtime)
    alert = await AmlAlert.get(rule="STRUCTURING_DAY")
    officer = await User.get(email="admin@demo.puente.mx")
    filed = await file_case_report(
        runtime, officer, alert.case_id, "Pagos fraccionados en efectivo en 24 horas"
    )
    header, *lines = filed.text.splitlines()
    assert "folio" in header.split("|") and lines
    assert all("STRUCTURING_DAY" in line for line in lines)
    case = await AmlCase.get(id=alert.case_id)
    assert case.status == "reported" and case.report_file == filed.filename
