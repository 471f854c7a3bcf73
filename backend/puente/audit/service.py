"""Appending to and verifying the hash-chained audit log: one chain per institution.

Each institution's entries form their own chain (``AuditChainHead.institution_id``), so two
institutions' writers never wait for each other's head row; entries naming no institution
go on the system chain (the head with no institution), which also holds every entry
written before chains were split (migration 0019_audit_chains). ``verify_audit_log``
proves every chain.

A writer that changes many things in one transaction (the webhook inbox applying a batch
of payments) wraps it in ``audit_batch(tx)``: the entries recorded in ``tx`` meanwhile are
appended together when the block ends, still inside ``tx``, so the chain's head row is
locked once per batch, from that append to the commit, instead of once per change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.models import AuditChainHead, AuditEvent
from puente.security.audit import GENESIS_HASH, ChainReport, chain_hash, verify_chain

__all__ = ["audit_batch", "record_audit", "verify_audit_log"]


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


@dataclass(slots=True)
class _Pending:
    """Entries recorded in ``conn`` inside ``audit_batch``, waiting for the block's end."""

    conn: BaseDBAsyncClient
    entries: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)


_PENDING: ContextVar[_Pending | None] = ContextVar("puente_audit_pending", default=None)


@asynccontextmanager
async def audit_batch(conn: BaseDBAsyncClient) -> AsyncIterator[None]:
    """Defer the audit entries recorded in transaction ``conn`` (exactly that client, not
    a savepoint inside it, whose rollback the batch could not see) to the end of the block,
    then append them in the order recorded, one head lock and one INSERT per chain. An
    exception leaves the block without appending: ``conn`` rolls back with its changes."""
    pending = _Pending(conn)
    token = _PENDING.set(pending)
    try:
        yield
    finally:
        _PENDING.reset(token)
    await _append(pending.entries, conn)


async def _append(entries: list[tuple[dict[str, Any], datetime]], conn: BaseDBAsyncClient) -> None:
    """Append ``entries`` (``_entry`` without its ``seq``, and the datetime it names) to
    their chains, in order. Chains are locked by institution id (the system chain last),
    the order every batch takes."""
    chains: dict[int | None, list[tuple[dict[str, Any], datetime]]] = {}
    for entry, occurred_at in entries:
        chains.setdefault(entry["institution_id"], []).append((entry, occurred_at))
    for institution_id in sorted(chains, key=lambda i: (i is None, i or 0)):
        head = await _locked_head(institution_id, conn)
        seq, digest = head.seq, head.hash
        rows = []
        for unchained, occurred_at in chains[institution_id]:
            seq += 1
            entry = {**unchained, "seq": seq}
            previous, digest = digest, chain_hash(digest, entry)
            rows.append(
                AuditEvent(
                    chain_id=head.id,
                    seq=seq,
                    occurred_at=occurred_at,
                    institution_id=institution_id,
                    actor_id=entry["actor_id"],
                    action=entry["action"],
                    subject_type=entry["subject_type"],
                    subject_id=entry["subject_id"],
                    data=entry["data"],
                    prev_hash=previous,
                    hash=digest,
                )
            )
        await AuditEvent.bulk_create(rows, using_db=conn)
        await AuditChainHead.filter(id=head.id).using_db(conn).update(seq=seq, hash=digest)


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
    occurred_at = (now or datetime.now(UTC)).astimezone(UTC)
    entry = _entry(
        0,  # its place in the chain is given when it is appended
        occurred_at,
        institution_id,
        actor_id,
        action,
        subject_type,
        str(subject_id),
        data or {},
    )
    pending = _PENDING.get()
    if pending is not None and pending.conn is conn:
        # Inside audit_batch(conn): appended with the batch's other entries at its end.
        del entry["seq"]
        pending.entries.append((entry, occurred_at))
        return AuditEvent(
            occurred_at=occurred_at,
            institution_id=institution_id,
            actor_id=actor_id,
            action=action,
            subject_type=subject_type,
            subject_id=str(subject_id),
            data=entry["data"],
        )
    # The head row lock serialises one chain's writers on PostgreSQL; SQLite serialises
    # transactions.
    head = await _locked_head(institution_id, conn)
    seq = entry["seq"] = head.seq + 1
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
