"""CEP checks: Banxico's Comprobante Electrónico de Pago of each SPEI received, as evidence."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = ["CepCheck", "CepStatus"]


class CepStatus(StrEnum):
    PENDING = "PENDIENTE"  # not asked yet, or asked and Banxico did not find it yet: retried
    VALIDATED = "VALIDADO"  # Banxico returned the CEP (liquidado); XML stored
    NOT_FOUND = "NO_ENCONTRADO"  # still not found after every retry: staff look (not fraud)
    NO_DATA = "SIN_DATOS"  # the provider did not tell us the clave de rastreo / banks


class CepCheck(Model):
    """One received SPEI and what Banxico's CEP service says about it."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    payment_id: int
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="cep_checks", on_delete=fields.RESTRICT
    )
    payment = fields.OneToOneField(
        "models.Payment", related_name="cep_check", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(CepStatus, max_length=14, default=CepStatus.PENDING)
    # fecha, clave_rastreo, emisor, receptor, cuenta, monto_centavos: what Banxico is asked
    query: Any = fields.JSONField(null=True)
    xml_enc = fields.TextField(null=True)  # the CEP XML (names and accounts): encrypted
    ordenante_name = fields.CharField(max_length=120, default="")
    ordenante_rfc = fields.CharField(max_length=18, default="")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=300, default="")
    checked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "cep_checks"
