"""Domiciliación: the borrower's mandates and every scheduled charge attempt."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from puente.accounts.models import User
    from puente.institutions.models import Institution
    from puente.loans.models import Loan
    from puente.payments.models import Payment, PaymentMethod

__all__ = ["AttemptStatus", "ChargeAttempt", "Mandate", "MandateStatus"]


class MandateStatus(StrEnum):
    ACTIVE = "active"
    REVOKED = "revoked"
    NEEDS_METHOD = (
        "needs_method"  # the card cannot be charged again: the borrower must pick another
    )


class AttemptStatus(StrEnum):
    SCHEDULED = "scheduled"  # planned for ``scheduled_for``
    CHARGING = "charging"  # its payment exists; the provider's answer may not be recorded yet
    PAID = "paid"
    PROCESSING = "processing"  # the provider accepted it and will confirm later
    DECLINED = "declined"  # refused; ``action`` says what comes next
    CANCELED = "canceled"  # never sent: mandate revoked, card deleted, nothing left to pay


class Mandate(Model):
    """A borrower's consent to charge one loan's due amounts to one saved card.

    Consent is explicit and revocable: which loan, which card, until when, the text the
    borrower accepted (its version), when and from where. Revoking it cancels every
    scheduled attempt at once; the charge job also checks it just before each charge.
    """

    id = fields.IntField(primary_key=True)
    institution_id: int
    loan_id: int
    user_id: int
    payment_method_id: int
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="mandates"
    )
    loan: fields.ForeignKeyRelation[Loan] = fields.ForeignKeyField(
        "models.Loan", related_name="mandates"
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="mandates"
    )
    payment_method: fields.ForeignKeyRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name="mandates"
    )
    status = fields.CharEnumField(MandateStatus, max_length=16, default=MandateStatus.ACTIVE)
    text_version = fields.CharField(max_length=32)
    text_sha256 = fields.CharField(max_length=64)
    valid_until = fields.DateField()
    signed_at = fields.DatetimeField()
    signed_origin = fields.CharField(max_length=300)
    revoked_at = fields.DatetimeField(null=True)
    revoked_origin = fields.CharField(max_length=300, null=True)

    class Meta:
        table = "mandates"
        indexes = (("loan_id", "status"),)


class ChargeAttempt(Model):
    """One try at charging a loan's amount due under a mandate; never two with the same
    (loan, installment, attempt), so a rerun finds its row and resumes, never re-charges."""

    id = fields.BigIntField(primary_key=True)
    institution_id: int
    loan_id: int
    mandate_id: int
    payment_id: int | None
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="charge_attempts"
    )
    loan: fields.ForeignKeyRelation[Loan] = fields.ForeignKeyField(
        "models.Loan", related_name="charge_attempts"
    )
    mandate: fields.ForeignKeyRelation[Mandate] = fields.ForeignKeyField(
        "models.Mandate", related_name="attempts"
    )
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="charge_attempts", null=True
    )
    installment_number = fields.IntField()
    attempt = fields.IntField()
    scheduled_for = fields.DateField()
    status = fields.CharEnumField(AttemptStatus, max_length=12, default=AttemptStatus.SCHEDULED)
    amount_centavos = fields.BigIntField(null=True)  # fixed when the payment is made
    decline_code = fields.CharField(max_length=64, null=True)  # normalised (ErrorCode)
    action = fields.CharField(max_length=24, null=True)  # dunning.Action after a decline
    detail = fields.CharField(max_length=300, null=True)  # Spanish, for staff and borrower
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "charge_attempts"
        unique_together = (("loan", "installment_number", "attempt"),)
        indexes = (("status", "scheduled_for"),)
