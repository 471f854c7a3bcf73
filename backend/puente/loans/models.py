"""Loan products, loans and their contractual installments.

Installments hold the *contract* (what falls due and when); what has been paid and what is
still owed is never stored here: it is derived from ledger postings.

The contract is versioned, never rewritten: a prepayment (pago anticipado) or a restructuring
marks the future rows ``superseded_on`` and inserts their replacements with the next
``version``. Rows already due are never touched, so every posting tagged with an installment
number still points at the row it was made against.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from puente.enums import LoanStatus

__all__ = ["Installment", "Loan", "LoanProduct"]


class LoanProduct(Model):
    """What a lender sells: method, periodicity, rates and the rules of the product."""

    id = fields.IntField(primary_key=True)
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="products", on_delete=fields.RESTRICT
    )
    name = fields.CharField(max_length=120)
    kind = fields.CharField(max_length=20, default="personal")  # personal | tuition
    method = fields.CharField(max_length=10, default="FRENCH")
    periodicity = fields.CharField(max_length=12, default="MONTHLY")
    day_count = fields.CharField(max_length=12, default="PERIODIC")
    annual_rate = fields.DecimalField(max_digits=12, decimal_places=6)
    vat_rate = fields.DecimalField(max_digits=6, decimal_places=4, default="0.16")
    opening_fee_rate = fields.DecimalField(max_digits=8, decimal_places=6, default="0")
    late_annual_rate = fields.DecimalField(max_digits=12, decimal_places=6, default="0")
    late_fee_centavos = fields.BigIntField(default=0)
    allows_overpayment = fields.BooleanField(default=True)
    # What money beyond what is due does when the payer is not asked (PrepaymentMode).
    default_prepayment_mode = fields.CharField(max_length=24, default="ADVANCE")
    settings = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "loan_products"


class Loan(Model):
    """One credit granted to a borrower, with its terms frozen at origination."""

    id = fields.IntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int
    borrower_id: int
    product_id: int
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="loans", on_delete=fields.RESTRICT
    )
    borrower = fields.ForeignKeyField(
        "models.User", related_name="loans", on_delete=fields.RESTRICT
    )
    student = fields.ForeignKeyField(
        "models.User", related_name="student_loans", null=True, on_delete=fields.RESTRICT
    )
    product = fields.ForeignKeyField(
        "models.LoanProduct", related_name="loans", on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(LoanStatus, max_length=16, default=LoanStatus.APPLICATION)
    principal_centavos = fields.BigIntField()
    annual_rate = fields.DecimalField(max_digits=12, decimal_places=6)
    vat_rate = fields.DecimalField(max_digits=6, decimal_places=4)
    term_count = fields.IntField()
    periodicity = fields.CharField(max_length=12)
    method = fields.CharField(max_length=10)
    day_count = fields.CharField(max_length=12)
    opening_fee_centavos = fields.BigIntField(default=0)
    opening_fee_vat_centavos = fields.BigIntField(default=0)
    cat = fields.DecimalField(max_digits=8, decimal_places=1, null=True)
    start_date = fields.DateField()
    disbursed_at = fields.DatetimeField(null=True)
    # The borrower's choice for money beyond what is due (engine OverpaymentMode).
    overpayment_mode = fields.CharField(max_length=24, default="ADVANCE")
    # Contract extras frozen at origination, e.g. a tuition plan's beca and pronto-pago rules.
    settings = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "loans"


class Installment(Model):
    """One scheduled payment of a loan (the contract), amounts in centavos.

    The current contract is the rows with no superseded_on. Older versions stay as history.
    """

    id = fields.IntField(primary_key=True)
    loan = fields.ForeignKeyField("models.Loan", related_name="installments")
    number = fields.IntField()
    due_date = fields.DateField()
    principal_centavos = fields.BigIntField()
    interest_centavos = fields.BigIntField()
    vat_centavos = fields.BigIntField()
    fee_centavos = fields.BigIntField(default=0)
    total_centavos = fields.BigIntField()
    version = fields.IntField(default=1)
    superseded_on = fields.DateField(null=True)

    class Meta:
        table = "installments"
        unique_together = (("loan", "number", "version"),)
        ordering = ["number"]
