"""Appending to and verifying the hash-chained audit log: one chain per institution.

Each institution's entries form their own chain (``AuditChainHead.institution_id``), so two
institutions' writers never wait for each other's head row; entries naming no institution
go on the system chain (the head with no institution), which also holds every entry
written before chains were split (migration 0019_audit_chains). ``verify_audit_log``
proves every chain.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.models import AuditChainHead, AuditEvent
from puente.security.audit import GENESIS_HASH, ChainReport, chain_hash, verify_chain

__all__ = ["record_audit", "verify_audit_log"]


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


async def _locked_head(institution_id: int | None, conn: BaseDBAsyncClient) -> AuditChainHead:
    """The head of the chain ``institution_id``'s entries go on, locked until commit."""
    owner: dict[str, Any] = (
        {"institution_id": institution_id}
        if institution_id is not None
        else {"institution_id__isnull": True}
    )
    mine = AuditChainHead.select_for_update().using_db(conn).filter(**owner)
    head = await mine.first()
    if head is not None:
        return head
    # The first entry of this chain. ON CONFLICT DO NOTHING (one head per institution, and
    # one system head, is a unique index): a concurrent first writer's head is as good, and
    # a failed INSERT would abort the caller's PostgreSQL transaction.
    await AuditChainHead.bulk_create(
        [AuditChainHead(institution_id=institution_id, seq=0, hash=GENESIS_HASH)],
        ignore_conflicts=True,
        using_db=conn,
    )
    head = await mine.first()
    assert head is not None  # inserted above or by the concurrent writer
    return head


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
    """Append one entry to its institution's chain, linked to the entry before it there.

    Pass ``conn`` to write inside the caller's transaction, so the audit entry commits or
    rolls back with the change it describes. The chain's head row stays locked until then:
    write the audit entry last in a transaction, so the lock is held for the least time.
    """
    if conn is None:
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
    # The head row lock serialises one chain's writers on PostgreSQL; SQLite serialises
    # transactions.
    head = await _locked_head(institution_id, conn)
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
        chain_id=head.id,
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
    await AuditChainHead.filter(id=head.id).using_db(conn).update(seq=seq, hash=digest)
    return event


def _chain_name(head: AuditChainHead) -> str:
    if head.institution_id is None:
        return "system chain"
    return f"institution {head.institution_id}'s chain"


async def _chain_rows(
    chain_id: int, batch_size: int
) -> AsyncIterator[tuple[int, str, str, dict[str, Any], int | None]]:
    last = 0
    while True:
        batch = (
            await AuditEvent.filter(chain_id=chain_id, seq__gt=last)
            .order_by("seq")
            .limit(batch_size)
        )
        if not batch:
            return
        for row in batch:
            entry = _entry(
                row.seq,
                row.occurred_at,
                row.institution_id,
                row.actor_id,
                row.action,
                row.subject_type,
                row.subject_id,
                row.data,
            )
            yield row.seq, row.prev_hash, row.hash, entry, row.institution_id
        last = batch[-1].seq


async def _verify_chain(head: AuditChainHead, batch_size: int) -> ChainReport:
    """One chain from its genesis to its head: order, links, hashes, owner and tail."""
    rows = []
    async for seq, prev_hash, stored, entry, institution_id in _chain_rows(head.id, batch_size):
        if head.institution_id is not None and institution_id != head.institution_id:
            # Moved here from another institution's chain (the system chain holds all).
            return ChainReport(False, len(rows), seq, "entry of another institution (moved)")
        rows.append((seq, prev_hash, stored, entry))
    report = verify_chain(rows, start_seq=1 if rows else None)
    if report.ok and rows and rows[-1][0] != head.seq:
        # The chain verifies but ends before the head: the newest entries were deleted.
        report = ChainReport(
            False,
            report.checked,
            rows[-1][0] + 1,
            f"log ends at seq {rows[-1][0]} but the chain head says {head.seq} "
            "(newest entries deleted)",
        )
    if report.ok and not rows and head.seq:
        report = ChainReport(False, 0, 1, f"log is empty but the chain head says {head.seq}")
    if report.ok and rows and rows[-1][2] != head.hash:
        report = ChainReport(False, report.checked, head.seq, "last entry differs from the head")
    return report


async def verify_audit_log(batch_size: int = 1000) -> tuple[ChainReport, int]:
    """Walk every chain in order; return one report (the first broken chain named in its
    reason) and the sum of the heads' recorded seqs (entries the heads account for)."""
    heads = await AuditChainHead.all().order_by("id")
    checked = 0
    for head in heads:
        report = await _verify_chain(head, batch_size)
        checked += report.checked
        if not report.ok:
            reason = f"{_chain_name(head)}: {report.reason}"
            return ChainReport(False, checked, report.first_bad_seq, reason), head.seq
    known = [head.id for head in heads]
    stray = await AuditEvent.exclude(chain_id__in=known).order_by("chain_id", "seq").first()
    if stray is not None:
        # Entries on a chain whose head row is gone: nothing proves them, and their head
        # was removed on purpose.
        reason = f"chain {stray.chain_id} has entries but no head (head deleted)"
        return ChainReport(False, checked, stray.seq, reason), 0
    return ChainReport(True, checked), sum(head.seq for head in heads)
