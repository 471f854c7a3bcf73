"""Statements, their lines, the matches found and the exceptions left for staff.

Nothing here is ever deleted (database triggers refuse DELETE): a wrong match is rejected,
an exception is resolved with a note, and both are audited.
"""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from puente.reconciliation.enums import (
    Direction,
    ExceptionStatus,
    LineStatus,
    MatchStatus,
    RemittanceStatus,
)

__all__ = [
    "BankStatement",
    "GatewaySettlement",
    "PayrollEnrolment",
    "PayrollRemittance",
    "PayrollRemittanceRow",
    "ReconciliationException",
    "StatementLine",
    "StatementMatch",
]


class BankStatement(Model):
    """One imported file: where it came from and what its import found."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    institution = fields.ForeignKeyField("models.Institution", related_name="bank_statements")
    account = fields.CharField(max_length=64)  # the account the file names, or --account
    format = fields.CharField(max_length=32)  # camt053, mt940, csv:bbva, stp
    statement_ref = fields.CharField(max_length=120, default="")  # Stmt/Id, :20:
    file_name = fields.CharField(max_length=200, default="")
    file_sha256 = fields.CharField(max_length=64)
    line_count = fields.IntField(default=0)
    new_count = fields.IntField(default=0)
    duplicate_count = fields.IntField(default=0)
    imported_by = fields.ForeignKeyField(
        "models.User", related_name="imported_statements", null=True
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "bank_statements"
        unique_together = (("institution", "file_sha256"),)


class StatementLine(Model):
    """A movement of the bank account, stored once however many statements repeat it.

    The value date (when the money counts) and the booking date (when the bank recorded
    it) are kept apart: matching uses the value date, the books the booking date.
    """

    id = fields.BigIntField(primary_key=True)
    institution_id: int
    statement_id: int
    institution = fields.ForeignKeyField("models.Institution", related_name="statement_lines")
    statement = fields.ForeignKeyField(
        "models.BankStatement", related_name="lines", on_delete=fields.RESTRICT
    )
    account = fields.CharField(max_length=64)
    # sha256 of what identifies the movement at the bank: the same line in an overlapping
    # statement gets the same key, so the unique constraint stores it once.
    dedup_key = fields.CharField(max_length=64)
    position = fields.IntField()  # line number (or entry number) in the file that brought it
    direction = fields.CharEnumField(Direction, max_length=6)
    amount_centavos = fields.BigIntField()  # always > 0; direction says which way
    currency = fields.CharField(max_length=3, default="MXN")
    booking_date = fields.DateField(null=True)
    value_date = fields.DateField(null=True)
    clave_rastreo = fields.CharField(max_length=40, default="")
    reference = fields.CharField(max_length=40, default="")  # referencia numérica
    bank_reference = fields.CharField(max_length=80, default="")
    end_to_end_id = fields.CharField(max_length=80, default="")
    counterparty_name = fields.CharField(max_length=140, default="")
    counterparty_account = fields.CharField(max_length=40, default="")
    beneficiary_account = fields.CharField(max_length=40, default="")
    concept = fields.CharField(max_length=300, default="")
    status = fields.CharEnumField(LineStatus, max_length=10, default=LineStatus.UNMATCHED)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "statement_lines"
        unique_together = (("institution", "dedup_key"),)
        indexes = (("institution_id", "status"),)


class StatementMatch(Model):
    """What explains a line (or part of it), how sure the matcher was, what was posted."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    line_id: int
    payment_id: int | None
    loan_id: int | None
    disbursement_id: int | None
    entry_id: int | None
    institution = fields.ForeignKeyField("models.Institution", related_name="statement_matches")
    line = fields.ForeignKeyField(
        "models.StatementLine", related_name="matches", on_delete=fields.RESTRICT
    )
    kind = fields.CharField(max_length=16)  # MatchKind
    strategy = fields.CharField(max_length=16)  # Strategy
    key = fields.CharField(max_length=40, default="")  # which key matched, e.g. clave_rastreo
    confidence = fields.SmallIntField()  # 0..100
    amount_centavos = fields.BigIntField()  # the part of the line this match explains
    payment = fields.ForeignKeyField("models.Payment", related_name="statement_matches", null=True)
    loan = fields.ForeignKeyField("models.Loan", related_name="statement_matches", null=True)
    disbursement = fields.ForeignKeyField(
        "models.Disbursement", related_name="statement_matches", null=True
    )
    settlement_ref = fields.CharField(max_length=80, default="")  # a gateway payout id
    status = fields.CharEnumField(MatchStatus, max_length=10)
    entry = fields.ForeignKeyField(
        "models.JournalEntry", related_name="statement_matches", null=True
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "statement_matches"


class ReconciliationException(Model):
    """A line nothing explains (or explains only in part), until staff resolve it."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    line_id: int
    suspense_item_id: int | None
    institution = fields.ForeignKeyField(
        "models.Institution", related_name="reconciliation_exceptions"
    )
    line = fields.ForeignKeyField(
        "models.StatementLine", related_name="exceptions", on_delete=fields.RESTRICT
    )
    reason = fields.CharField(max_length=24)  # ExceptionReason
    detail = fields.CharField(max_length=300, default="")
    suspense_item = fields.ForeignKeyField(
        "models.SuspenseItem", related_name="reconciliation_exceptions", null=True
    )
    # The part of the line this exception is about (None: the whole line); a payroll
    # remittance leaves one exception per employee nobody knows, each for their amount.
    amount_centavos = fields.BigIntField(null=True)
    status = fields.CharEnumField(ExceptionStatus, max_length=10, default=ExceptionStatus.OPEN)
    resolution = fields.CharField(max_length=24, null=True)  # Resolution
    note = fields.CharField(max_length=300, default="")
    resolved_by = fields.ForeignKeyField(
        "models.User", related_name="resolved_reconciliation_exceptions", null=True
    )
    resolved_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reconciliation_exceptions"


class GatewaySettlement(Model):
    """A gateway's payout to the bank: which payments it carried, what the gateway kept.

    ``gross - fee - fee_vat = net``, the amount the bank statement shows. Fetched from the
    connector's own settlement listing (``puente reconcile settlements``).
    """

    id = fields.IntField(primary_key=True)
    institution_id: int
    line_id: int | None
    institution = fields.ForeignKeyField("models.Institution", related_name="gateway_settlements")
    provider = fields.CharField(max_length=16)  # ProviderName
    provider_id = fields.CharField(max_length=80)  # the payout id, e.g. po_...
    status = fields.CharField(max_length=16)  # the provider's: paid, in_transit, failed
    net_centavos = fields.BigIntField()
    gross_centavos = fields.BigIntField()
    fee_centavos = fields.BigIntField()
    fee_vat_centavos = fields.BigIntField()
    arrival_date = fields.DateField(null=True)
    payment_references: Any = fields.JSONField(default=list)  # provider ids of the payments
    line = fields.ForeignKeyField(
        "models.StatementLine", related_name="settlements", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "gateway_settlements"
        unique_together = (("institution", "provider", "provider_id"),)


class PayrollEnrolment(Model):
    """A loan repaid by descuento vía nómina: the employer deducts the installment from the
    borrower's salary and remits it, naming the borrower by their employee number."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    loan_id: int
    institution = fields.ForeignKeyField("models.Institution", related_name="payroll_enrolments")
    employer = fields.CharField(max_length=40)  # the employer's RFC, as on its remittances
    employee_id = fields.CharField(max_length=40)
    loan = fields.ForeignKeyField("models.Loan", related_name="payroll_enrolments")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payroll_enrolments"
        unique_together = (("institution", "employer", "employee_id"),)


class PayrollRemittance(Model):
    """An employer's remittance file: whose installments one deposit carries."""

    id = fields.IntField(primary_key=True)
    institution_id: int
    line_id: int | None
    institution = fields.ForeignKeyField("models.Institution", related_name="payroll_remittances")
    employer = fields.CharField(max_length=40)
    reference = fields.CharField(max_length=80, default="")  # what the deposit's concept says
    file_name = fields.CharField(max_length=200, default="")
    file_sha256 = fields.CharField(max_length=64)
    total_centavos = fields.BigIntField()
    row_count = fields.IntField()
    line = fields.ForeignKeyField(
        "models.StatementLine", related_name="remittances", null=True, on_delete=fields.RESTRICT
    )
    status = fields.CharEnumField(RemittanceStatus, max_length=10)
    detail = fields.CharField(max_length=300, default="")
    imported_by = fields.ForeignKeyField(
        "models.User", related_name="imported_remittances", null=True
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "payroll_remittances"
        unique_together = (("institution", "file_sha256"),)


class PayrollRemittanceRow(Model):
    """One borrower's share of a remittance and what became of it (CURP and RFC are not
    kept: ``identity`` shows only their first four characters)."""

    id = fields.IntField(primary_key=True)
    remittance_id: int
    loan_id: int | None
    payment_id: int | None
    exception_id: int | None
    remittance = fields.ForeignKeyField(
        "models.PayrollRemittance", related_name="rows", on_delete=fields.RESTRICT
    )
    position = fields.IntField()  # line number in the file
    employee_id = fields.CharField(max_length=40, default="")
    identity = fields.CharField(max_length=24, default="")
    name = fields.CharField(max_length=140, default="")
    amount_centavos = fields.BigIntField()
    loan = fields.ForeignKeyField("models.Loan", related_name="remittance_rows", null=True)
    payment = fields.ForeignKeyField("models.Payment", related_name="remittance_rows", null=True)
    exception = fields.ForeignKeyField(
        "models.ReconciliationException", related_name="remittance_rows", null=True
    )

    class Meta:
        table = "payroll_remittance_rows"
