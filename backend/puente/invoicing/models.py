"""Invoicing records: the institution's CSD (encrypted) and each CFDI Puente issued.

An ``Invoice`` row is the outbox of its CFDI: created ``pending`` when a payment is known to
need one, retried by the invoicing job until the PAC stamps it (``stamped``) or a person must
look (``failed``: the document itself is wrong, retrying will not help). The stamped XML is
kept encrypted (it names the borrower and their RFC).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = ["InstitutionCsd", "Invoice", "InvoiceKind", "InvoiceStatus"]


class InvoiceKind(StrEnum):
    INGRESO = "ingreso"  # interest, moratorium, fees (or tuition) collected, or billed (PPD)
    EGRESO = "egreso"  # nota de crédito for money given back
    PAGO = "pago"  # Complemento para recepción de pagos 2.0 of a payment of PPD ingresos


class InvoiceStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) attempt at the PAC
    STAMPED = "stamped"  # carries a TimbreFiscalDigital
    FAILED = "failed"  # refused for what it says: staff must look
    CANCELED = "canceled"  # cancelled at SAT (motivo 01–04)


class InstitutionCsd(Model):
    """The institution's Certificado de Sello Digital: certificate, key and its password,
    each an AES-256-GCM token (``security/crypto.py``)."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    institution = fields.OneToOneField(
        "models.Institution", related_name="csd", on_delete=fields.RESTRICT
    )
    rfc = fields.CharField(max_length=13)
    certificate_number = fields.CharField(max_length=20)
    certificate_enc = fields.TextField()
    key_enc = fields.TextField()
    password_enc = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "institution_csds"


class Invoice(Model):
    """One CFDI 4.0 of a payment: an ingreso for what it collected, or an egreso after a refund."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    payment_id: int | None
    loan_id: int | None
    related_id: int | None
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="invoices", on_delete=fields.RESTRICT
    )
    # None for an installment billed before it is paid (PPD: ``loan`` and the installment)
    payment = fields.ForeignKeyField(
        "models.Payment", related_name="invoices", null=True, on_delete=fields.RESTRICT
    )
    loan = fields.ForeignKeyField(
        "models.Loan", related_name="invoices", null=True, on_delete=fields.RESTRICT
    )
    installment_number = fields.IntField(null=True)
    metodo_pago = fields.CharField(max_length=3, default="PUE")  # PUE or PPD (ingresos)
    # A pago: the PPD ingresos it paid ({"invoice", "uuid", "number", "before", "paid", …})
    documents: Any = fields.JSONField(null=True)
    # "payment:<id>" for the ingreso, "refund:<journal entry id>" for a credit note,
    # "billing:<journal entry id>" for a PPD ingreso, "pago:<payment id>" for its complement
    key = fields.CharField(max_length=80, unique=True)
    kind = fields.CharEnumField(InvoiceKind, max_length=8)
    status = fields.CharEnumField(InvoiceStatus, max_length=10, default=InvoiceStatus.PENDING)
    folio = fields.CharField(max_length=40)
    uuid = fields.CharField(max_length=36, null=True, unique=True)
    subtotal_centavos = fields.BigIntField(default=0)
    vat_centavos = fields.BigIntField(default=0)
    total_centavos = fields.BigIntField(default=0)
    xml_enc = fields.TextField(null=True)
    related = fields.ForeignKeyField(
        "models.Invoice", related_name="credit_notes", null=True, on_delete=fields.RESTRICT
    )
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, default="")
    cancel_reason = fields.CharField(max_length=2, null=True)  # SAT motivo 01–04
    substitute_uuid = fields.CharField(max_length=36, null=True)
    stamped_at = fields.DatetimeField(null=True)
    canceled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "invoices"
