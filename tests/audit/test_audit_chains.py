"""One audit chain per institution: writers of different institutions never share a lock,
and `verify` still proves every chain (and finds tampering on any of them)."""

from __future__ import annotations

import asyncio

import pytest
from tests.support import factories
from tortoise.connection import get_connection

from puente.audit.models import AuditChainHead, AuditEvent
from puente.audit.service import record_audit, verify_audit_log

pytestmark = pytest.mark.anyio


async def _interleaved() -> tuple[int, int]:
    """Entries of two institutions and of the system, written in turn."""
    a = (await factories.institution("alfa")).id
    b = (await factories.institution("beta")).id
    for n in range(3):
        for institution_id in (a, None, b):
            await record_audit("test.event", institution_id=institution_id, data={"n": n})
    return a, b


async def test_interleaved_institutions_get_a_chain_each_and_all_verify(db):
    a, b = await _interleaved()
    report, heads = await verify_audit_log()
    assert report.ok and report.checked == 9 and heads == 9
    for institution_id in (a, b):
        head = await AuditChainHead.get(institution_id=institution_id)
        rows = await AuditEvent.filter(chain_id=head.id).order_by("seq")
        assert [row.seq for row in rows] == [1, 2, 3]
        assert {row.institution_id for row in rows} == {institution_id}
        assert rows[0].prev_hash == "0" * 64 and rows[-1].hash == head.hash
    system = await AuditChainHead.get(institution_id__isnull=True)
    assert await AuditEvent.filter(chain_id=system.id, institution_id__isnull=True).count() == 3


async def test_a_modified_entry_on_one_institutions_chain_is_found_and_named(db):
    a, b = await _interleaved()
    head = await AuditChainHead.get(institution_id=b)
    await AuditEvent.filter(chain_id=head.id, seq=2).update(data={"n": 99})
    report, _ = await verify_audit_log()
    assert not report.ok and report.first_bad_seq == 2
    assert f"institution {b}'s chain" in (report.reason or "") and "modified" in report.reason


async def test_a_deleted_entry_or_newest_entry_of_one_chain_is_found(db):
    a, b = await _interleaved()
    head = await AuditChainHead.get(institution_id=a)
    conn = get_connection("default")
    await conn.execute_query(f"DELETE FROM audit_events WHERE chain_id = {head.id} AND seq = 3")
    report, _ = await verify_audit_log()
    assert not report.ok and "newest entries deleted" in (report.reason or "")
    await conn.execute_query(f"DELETE FROM audit_events WHERE chain_id = {head.id} AND seq = 1")
    report, _ = await verify_audit_log()
    assert not report.ok and report.first_bad_seq == 2 and f"institution {a}" in report.reason


async def test_an_entry_moved_to_another_institutions_chain_is_found(db):
    a, b = await _interleaved()
    head_b = await AuditChainHead.get(institution_id=b)
    await AuditEvent.filter(chain_id=head_b.id, seq=1).update(institution_id=a)
    report, _ = await verify_audit_log()
    assert not report.ok and report.first_bad_seq == 1


async def test_entries_whose_chain_head_was_deleted_are_found(db):
    a, _ = await _interleaved()
    await AuditChainHead.filter(institution_id=a).delete()
    report, _ = await verify_audit_log()
    assert not report.ok and "no head" in (report.reason or "")


async def test_concurrent_writers_of_two_institutions_build_two_sound_chains(db):
    a = (await factories.institution("alfa")).id
    b = (await factories.institution("beta")).id
    await asyncio.gather(
        *[
            record_audit("test.concurrent", institution_id=(a, b)[n % 2], data={"n": n})
            for n in range(30)
        ]
    )
    report, heads = await verify_audit_log()
    assert report.ok and report.checked == 30 and heads == 30
    assert await AuditChainHead.all().count() == 2


async def test_a_batch_appends_its_entries_at_its_end_in_order_and_they_verify(db):
    from tortoise.transactions import in_transaction

    from puente.audit.service import audit_batch

    a = (await factories.institution("alfa")).id
    await record_audit("before", institution_id=a)
    async with in_transaction() as tx, audit_batch(tx):
        for n in range(3):
            await record_audit("in.batch", institution_id=a, data={"n": n}, conn=tx)
        await record_audit("system.too", data={"n": 9}, conn=tx)
        # Deferred: nothing on the chains until the block ends.
        assert await AuditEvent.filter(action="in.batch").using_db(tx).count() == 0
    head = await AuditChainHead.get(institution_id=a)
    rows = await AuditEvent.filter(chain_id=head.id).order_by("seq")
    assert [(r.seq, r.action, r.data.get("n")) for r in rows] == [
        (1, "before", None),
        (2, "in.batch", 0),
        (3, "in.batch", 1),
        (4, "in.batch", 2),
    ]
    assert rows[1].prev_hash == rows[0].hash and rows[-1].hash == head.hash
    assert await AuditEvent.filter(action="system.too", institution_id__isnull=True).count() == 1
    report, heads = await verify_audit_log()
    assert report.ok and heads == 5
    # Tampering with a batch-appended entry is found like any other.
    await AuditEvent.filter(id=rows[2].id).update(data={"n": 7})
    report, _ = await verify_audit_log()
    assert not report.ok and report.first_bad_seq == 3


async def test_a_batch_that_fails_appends_nothing(db):
    from tortoise.transactions import in_transaction

    from puente.audit.service import audit_batch

    a = (await factories.institution("alfa")).id
    with pytest.raises(RuntimeError):
        async with in_transaction() as tx, audit_batch(tx):
            await record_audit("in.batch", institution_id=a, conn=tx)
            raise RuntimeError("rolled back")
    assert await AuditEvent.filter(action="in.batch").count() == 0
    await record_audit("after", institution_id=a)  # the chain goes on from its head
    report, heads = await verify_audit_log()
    assert report.ok and heads == 1
