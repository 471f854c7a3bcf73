"""Institutions (a lender or a school) and their provider accounts."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from puente.enums import InstitutionKind

__all__ = ["Institution", "ProviderAccount"]


class Institution(Model):
    """A lender or a school: every other record is scoped to one."""

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=64, unique=True)
    name = fields.CharField(max_length=200)
    kind = fields.CharEnumField(InstitutionKind, max_length=16)
    rfc = fields.CharField(max_length=13, null=True)
    settings = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "institutions"


class ProviderAccount(Model):
    """An institution's account at a gateway or bank, credentials encrypted at rest."""

    id = fields.IntField(primary_key=True)
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="provider_accounts", on_delete=fields.RESTRICT
    )
    provider = fields.CharField(max_length=16)  # a registered provider's name
    label = fields.CharField(max_length=100, default="")
    credentials_enc = fields.TextField()  # AES-256-GCM token of a JSON object
    is_active = fields.BooleanField(default=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "provider_accounts"
        unique_together = (("institution", "provider", "label"),)
