"""Appending to and verifying the hash-chained audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from puente.audit.models import AuditChainHead, AuditEvent
from puente.security.audit import GENESIS_HASH, ChainReport, chain_hash, verify_chain

__all__ = ["record_audit", "verify_audit_log"]

_HEAD_ID = 1


def _entry(
    seq: int,
    occurred_at: datetime,
    institution_id: int | None,
    actor_id: int | None,
    action: str,
    subject_type: str,
    subject_id: str,
    data: Mapping[str, Any],
) -> dict[str, Any]:
    # Microsecond ISO text in UTC: what both SQLite and PostgreSQL give back unchanged.
    return {
        "seq": seq,
        "occurred_at": occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "institution_id": institution_id,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "data": dict(data),
    }


async def _ensure_head(conn: BaseDBAsyncClient | None) -> None:
    if await AuditChainHead.filter(id=_HEAD_ID).using_db(conn).exists():
        return
    try:
        async with in_transaction() as tx:
            await AuditChainHead.create(id=_HEAD_ID, seq=0, hash=GENESIS_HASH, using_db=tx)
    except IntegrityError:
        pass  # created by a concurrent writer


async def record_audit(
    action: str,
    *,
    actor_id: int | None = None,
    institution_id: int | None = None,
    subject_type: str = "",
    subject_id: str | int = "",
    data: Mapping[str, Any] | None = None,
    conn: BaseDBAsyncClient | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one entry, chained to the previous one.

    Pass ``conn`` to write inside the caller's transaction, so the audit entry commits or
    rolls back with the change it describes.
    """
    if conn is None:
        await _ensure_head(None)
        async with in_transaction() as tx:
            return await record_audit(
                action,
                actor_id=actor_id,
                institution_id=institution_id,
                subject_type=subject_type,
                subject_id=subject_id,
                data=data,
                conn=tx,
                now=now,
            )
    if not await AuditChainHead.filter(id=_HEAD_ID).using_db(conn).exists():
        await AuditChainHead.create(id=_HEAD_ID, seq=0, hash=GENESIS_HASH, using_db=conn)
    # The head row lock serialises writers on PostgreSQL; SQLite serialises transactions.
    head = await AuditChainHead.select_for_update().using_db(conn).get(id=_HEAD_ID)
    occurred_at = (now or datetime.now(UTC)).astimezone(UTC)
    seq = head.seq + 1
    entry = _entry(
        seq,
        occurred_at,
        institution_id,
        actor_id,
        action,
        subject_type,
        str(subject_id),
        data or {},
    )
    digest = chain_hash(head.hash, entry)
    event = await AuditEvent.create(
        seq=seq,
        occurred_at=occurred_at,
        institution_id=institution_id,
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=entry["data"],
        prev_hash=head.hash,
        hash=digest,
        using_db=conn,
    )
    await AuditChainHead.filter(id=_HEAD_ID).using_db(conn).update(seq=seq, hash=digest)
    return event


async def verify_audit_log(batch_size: int = 1000) -> tuple[ChainReport, int]:
    """Walk the whole log in order; return the chain report and the head's recorded seq."""
    head = await AuditChainHead.filter(id=_HEAD_ID).first()

    async def rows():
        last = 0
        while True:
            batch = await AuditEvent.filter(seq__gt=last).order_by("seq").limit(batch_size)
            if not batch:
                return
            for row in batch:
                yield (
                    row.seq,
                    row.prev_hash,
                    row.hash,
                    _entry(
                        row.seq,
                        row.occurred_at,
                        row.institution_id,
                        row.actor_id,
                        row.action,
                        row.subject_type,
                        row.subject_id,
                        row.data,
                    ),
                )
            last = batch[-1].seq

    collected = [row async for row in rows()]
    report = verify_chain(collected, start_seq=1 if collected else None)
    head_seq = head.seq if head is not None else 0
    if report.ok and collected and collected[-1][0] != head_seq:
        # The chain verifies but ends before the head: the newest entries were deleted.
        report = ChainReport(
            False,
            report.checked,
            collected[-1][0] + 1,
            f"log ends at seq {collected[-1][0]} but the chain head says {head_seq} "
            "(newest entries deleted)",
        )
    if report.ok and not collected and head_seq:
        report = ChainReport(False, 0, 1, f"log is empty but the chain head says {head_seq}")
    if report.ok and collected and head is not None and collected[-1][2] != head.hash:
        report = ChainReport(False, report.checked, head_seq, "last entry differs from the head")
    return report, head_seq
