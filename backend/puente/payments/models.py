"""Saved payment methods and payments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from puente.enums import DisbursementStatus, PaymentMethodType, PaymentStatus

if TYPE_CHECKING:
    from puente.accounts.models import User
    from puente.institutions.models import Institution
    from puente.loans.models import Loan

__all__ = ["Disbursement", "Payment", "PaymentMethod"]


class PaymentMethod(Model):
    """A reusable way to pay. Never a full card number: provider token, brand and last four."""

    id = fields.IntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int
    user_id: int
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="payment_methods"
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="payment_methods"
    )
    provider = fields.CharField(max_length=16)  # a registered provider's name
    method = fields.CharEnumField(PaymentMethodType, max_length=10)
    provider_token = fields.CharField(max_length=200, null=True)
    provider_customer_id = fields.CharField(max_length=200, null=True)
    card_brand = fields.CharField(max_length=20, null=True)
    card_last4 = fields.CharField(max_length=4, null=True)
    card_exp_month = fields.SmallIntField(null=True)
    card_exp_year = fields.SmallIntField(null=True)
    clabe_enc = fields.TextField(null=True)
    clabe_last4 = fields.CharField(max_length=4, null=True)
    label = fields.CharField(max_length=100, default="")
    is_active = fields.BooleanField(default=True)
    is_default = fields.BooleanField(default=False)  # the card checkout offers first
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payment_methods"


class Payment(Model):
    """A borrower's payment attempt through one provider and its lifecycle."""

    id = fields.IntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int
    loan_id: int
    user_id: int
    payment_method_id: int | None
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="payments"
    )
    loan: fields.ForeignKeyRelation[Loan] = fields.ForeignKeyField(
        "models.Loan", related_name="payments"
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="payments"
    )
    payment_method: fields.ForeignKeyNullableRelation[PaymentMethod] = fields.ForeignKeyField(
        "models.PaymentMethod", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    provider = fields.CharField(max_length=16)  # a registered provider's name
    method = fields.CharEnumField(PaymentMethodType, max_length=10)
    amount_centavos = fields.BigIntField()
    refunded_centavos = fields.BigIntField(default=0)
    status = fields.CharEnumField(PaymentStatus, max_length=20, default=PaymentStatus.CREATED)
    idempotency_key = fields.CharField(max_length=128)
    request_fingerprint = fields.CharField(max_length=64)
    provider_reference = fields.CharField(max_length=200, null=True, db_index=True)
    next_action: Any = fields.JSONField(null=True)  # dict | None
    # What money beyond what is due does (PrepaymentMode), fixed when the payment is made;
    # chosen by the payer, or the loan's standing choice (the product default) when not asked.
    prepayment_mode = fields.CharField(max_length=24, null=True)
    prepayment_mode_chosen = fields.BooleanField(default=False)
    # What was sent to the provider besides what is derived from the row (the card token,
    # the saved method, the return URL): a request with unknown outcome is sent again exactly,
    # under the same provider idempotency key, so it can never become a second charge.
    provider_request: Any = fields.JSONField(null=True)  # dict | None
    failure_code = fields.CharField(max_length=64, null=True)
    # The provider's own decline code (``stolen_card``, ``3004`` …): dunning reads it.
    provider_failure_code = fields.CharField(max_length=64, null=True)
    failure_message = fields.CharField(max_length=500, null=True)
    expires_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "payments"
        unique_together = (("institution", "idempotency_key"),)


class Disbursement(Model):
    """The SPEI transfer that pays a loan out to the borrower."""

    id = fields.IntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int
    loan_id: int
    institution: fields.ForeignKeyRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="disbursements"
    )
    # One attempt per row: after a failed or returned payout a new attempt is a new row with
    # its own clave de rastreo (payments/disbursements.py keeps at most one live attempt).
    loan: fields.ForeignKeyRelation[Loan] = fields.ForeignKeyField(
        "models.Loan", related_name="disbursements"
    )
    provider = fields.CharField(max_length=16)  # a registered provider's name
    amount_centavos = fields.BigIntField()
    clabe_enc = fields.TextField()
    clabe_last4 = fields.CharField(max_length=4)
    beneficiary_name = fields.CharField(max_length=120)
    clave_rastreo = fields.CharField(max_length=30, unique=True)
    provider_reference = fields.CharField(max_length=64, null=True, db_index=True)
    status = fields.CharEnumField(
        DisbursementStatus, max_length=12, default=DisbursementStatus.PENDING
    )
    failure_message = fields.CharField(max_length=300, null=True)
    settled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "disbursements"
