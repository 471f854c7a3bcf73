"""Compliance records: loan applications (KYC), their documents, watch lists, FIX rates,
AML alerts, cases and suspensions.

Personal data of an application is one encrypted JSON document (``data_enc``), CURP, RFC and
CLABE have blind indexes for lookups, documents are encrypted bytes. Amounts in centavos.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

__all__ = [
    "AmlAlert",
    "AmlCase",
    "CustomerSuspension",
    "FixRate",
    "KycDocument",
    "LoanApplication",
    "WatchlistEntry",
]


class LoanApplication(Model):
    """A persona fisica applying for a loan (digital onboarding), reviewed by staff."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    user_id: int
    product_id: int
    loan_id: int | None
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="loan_applications", on_delete=fields.RESTRICT
    )
    user = fields.ForeignKeyField(
        "models.User", related_name="loan_applications", on_delete=fields.RESTRICT
    )
    product = fields.ForeignKeyField(
        "models.LoanProduct", related_name="applications", on_delete=fields.RESTRICT
    )
    status = fields.CharField(max_length=16, default="submitted")  # ApplicationStatus
    full_name = fields.CharField(max_length=200)
    data_enc = fields.TextField()  # the validated form as encrypted JSON
    curp_index = fields.CharField(max_length=64, db_index=True)
    rfc_index = fields.CharField(max_length=64, db_index=True)
    clabe_index = fields.CharField(max_length=64, db_index=True)
    clabe_last4 = fields.CharField(max_length=4)
    # Links between customers for structuring across people (docs/compliance.md): the same
    # phone or the same address (normalised) is a blind index too; "" when not known.
    phone_index = fields.CharField(max_length=64, default="", db_index=True)
    address_index = fields.CharField(max_length=64, default="", db_index=True)
    requested_centavos = fields.BigIntField()
    term_count = fields.IntField()
    monthly_income_centavos = fields.BigIntField()
    own_account = fields.BooleanField(default=True)
    risk_grade = fields.CharField(max_length=8)
    risk_points = fields.IntField(default=0)
    risk_reasons: Any = fields.JSONField(default=list)
    screening: Any = fields.JSONField(default=list)  # list hits at submission
    loan = fields.ForeignKeyField(
        "models.Loan", related_name="application", null=True, on_delete=fields.RESTRICT
    )
    reviewed_by = fields.ForeignKeyField(
        "models.User", related_name="reviewed_applications", null=True, on_delete=fields.RESTRICT
    )
    reviewed_at = fields.DatetimeField(null=True)
    review_note = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "loan_applications"


class KycDocument(Model):
    """An uploaded KYC document, encrypted at rest, served only to its owner and staff."""

    id = fields.IntField(primary_key=True)
    application_id: int
    application = fields.ForeignKeyField(
        "models.LoanApplication", related_name="documents", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=32)  # DocumentKind
    content_type = fields.CharField(max_length=40)
    size_bytes = fields.IntField()
    sha256 = fields.CharField(max_length=64)
    content_enc = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "kyc_documents"
        unique_together = (("application", "kind"),)


class WatchlistEntry(Model):
    """One person on a loaded list (UIF blocked persons, PEP, sanctions)."""

    id = fields.IntField(primary_key=True)
    kind = fields.CharField(max_length=16, db_index=True)  # ListKind
    entry_id = fields.CharField(max_length=64)
    name = fields.CharField(max_length=300)
    aliases: Any = fields.JSONField(default=list)
    curp = fields.CharField(max_length=18, null=True)
    rfc = fields.CharField(max_length=13, null=True)
    birth_date = fields.DateField(null=True)
    source = fields.CharField(max_length=200, default="")
    loaded_at = fields.DatetimeField()

    class Meta:
        table = "watchlist_entries"
        unique_together = (("kind", "entry_id"),)


class FixRate(Model):
    """Banxico FIX exchange rate (MXN per USD) for one day."""

    day = fields.DateField(primary_key=True)
    mxn_per_usd = fields.DecimalField(max_digits=10, decimal_places=4)

    class Meta:
        table = "fix_rates"


class AmlCase(Model):
    """Alerts about one customer grouped for the compliance officer, with its deadline."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    customer_id: int
    closed_by_id: int | None
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="aml_cases", on_delete=fields.RESTRICT
    )
    customer = fields.ForeignKeyField(
        "models.User", related_name="aml_cases", on_delete=fields.RESTRICT
    )
    report_kind = fields.CharField(max_length=16)  # ReportKind: 24h, inusual, relevante
    status = fields.CharField(max_length=16, default="open")  # CaseStatus
    opened_at = fields.DatetimeField()
    due_at = fields.DatetimeField()
    closed_at = fields.DatetimeField(null=True)
    closed_by = fields.ForeignKeyField(
        "models.User", related_name="closed_aml_cases", null=True, on_delete=fields.RESTRICT
    )
    reason = fields.CharField(max_length=1000, default="")
    report_file = fields.CharField(max_length=200, null=True)

    class Meta:
        table = "aml_cases"


class AmlAlert(Model):
    """What a rule or a list hit raised, with its evidence."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    customer_id: int
    case_id: int
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="aml_alerts", on_delete=fields.RESTRICT
    )
    customer = fields.ForeignKeyField(
        "models.User", related_name="aml_alerts", on_delete=fields.RESTRICT
    )
    case = fields.ForeignKeyField(
        "models.AmlCase", related_name="alerts", on_delete=fields.RESTRICT
    )
    rule = fields.CharField(max_length=48)
    report_kind = fields.CharField(max_length=16)
    summary = fields.CharField(max_length=500)
    payment_ids: Any = fields.JSONField(default=list)
    evidence: Any = fields.JSONField(default=dict)
    # One alert per rule and triggering event: a re-run raises nothing new.
    dedupe_key = fields.CharField(max_length=120, unique=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "aml_alerts"


class CustomerSuspension(Model):
    """A customer whose operations are suspended (a blocked-list hit) until lifted."""

    id = fields.IntField(primary_key=True)
    customer_id: int
    customer = fields.ForeignKeyField(
        "models.User", related_name="aml_suspensions", on_delete=fields.RESTRICT
    )
    case = fields.ForeignKeyField(
        "models.AmlCase", related_name="suspensions", null=True, on_delete=fields.RESTRICT
    )
    reason = fields.CharField(max_length=300)
    created_at = fields.DatetimeField()
    lifted_at = fields.DatetimeField(null=True)
    lifted_by = fields.ForeignKeyField(
        "models.User", related_name="lifted_suspensions", null=True, on_delete=fields.RESTRICT
    )
    lift_reason = fields.CharField(max_length=500, default="")

    class Meta:
        table = "aml_suspensions"
