"""The append-only, hash-chained audit log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

__all__ = ["AuditChainHead", "AuditEvent"]


class AuditEvent(Model):
    """One audited action: hash chains it to the entry before it on its chain (prev_hash).

    ``chain_id`` is the head of the chain it belongs to (``AuditChainHead``), ``seq`` its
    position there.
    """

    id = fields.BigIntField(primary_key=True)
    chain_id = fields.IntField(default=1)  # 1: entries written before chains were split
    seq = fields.BigIntField()
    occurred_at = fields.DatetimeField()
    institution_id = fields.IntField(null=True)
    actor_id = fields.IntField(null=True)
    action = fields.CharField(max_length=100)
    subject_type = fields.CharField(max_length=50, default="")
    subject_id = fields.CharField(max_length=64, default="")
    data = fields.JSONField(default=dict)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_events"
        ordering = ["id"]
        unique_together = (("chain_id", "seq"),)


class AuditChainHead(Model):
    """The end of one chain, locked while appending so its writers extend it in turn.

    One chain per institution (``institution_id``), so institutions never wait for each
    other; the head with no institution is the system chain's, which also holds every
    entry written before chains were split (row 1, migration 0019_audit_chains). A unique
    index on ``COALESCE(institution_id, 0)`` allows one head per institution and one system
    head.
    """

    id = fields.IntField(primary_key=True)
    institution_id = fields.IntField(null=True)
    seq = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_chain_head"
