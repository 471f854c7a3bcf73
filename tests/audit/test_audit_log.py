"""The audit log is hash-chained: tampering or deleting an entry is found."""

from __future__ import annotations

import pytest
from tortoise.connection import get_connection

from puente.audit.models import AuditEvent
from puente.audit.service import record_audit, verify_audit_log

pytestmark = pytest.mark.anyio


async def _three_entries() -> None:
    for n in range(3):
        await record_audit("test.event", actor_id=n, subject_type="thing", data={"n": n})


async def test_intact_log_verifies(db):
    await _three_entries()
    report, head = await verify_audit_log()
    assert report.ok and report.checked == 3 and head == 3


async def test_modified_entry_is_found(db):
    await _three_entries()
    await AuditEvent.filter(seq=2).update(data={"n": 99})
    report, _ = await verify_audit_log()
    assert not report.ok and report.first_bad_seq == 2 and "modified" in (report.reason or "")


async def test_deleted_entry_is_found(db):
    await _three_entries()
    await get_connection("default").execute_query("DELETE FROM audit_events WHERE seq = 2")
    report, _ = await verify_audit_log()
    assert not report.ok and report.first_bad_seq == 3


async def test_deleted_newest_entry_is_found_through_the_head(db):
    await _three_entries()
    await get_connection("default").execute_query("DELETE FROM audit_events WHERE seq = 3")
    report, _ = await verify_audit_log()
    assert not report.ok and "newest entries deleted" in (report.reason or "")
