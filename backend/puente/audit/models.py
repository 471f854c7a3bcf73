"""The append-only, hash-chained audit log."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

__all__ = ["AuditChainHead", "AuditEvent"]


class AuditEvent(Model):
    """One audited action: hash chains it to the entry before (prev_hash)."""

    id = fields.BigIntField(primary_key=True)
    seq = fields.BigIntField(unique=True)
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
        ordering = ["seq"]


class AuditChainHead(Model):
    """A single row locked while appending, so concurrent writers extend the chain in turn."""

    id = fields.IntField(primary_key=True)
    seq = fields.BigIntField(default=0)
    hash = fields.CharField(max_length=64)

    class Meta:
        table = "audit_chain_head"
