"""Double-entry ledger: accounts, journal entries and their postings.

Postings are written once and never updated or deleted (database triggers refuse it);
a correction is a reversing entry. Every balance anywhere is a sum of postings; the read
model (``AccountBalance``, ``InstallmentTotal``) keeps those sums up to date in the same
transaction as the postings (``ledger/balances.py``), so reading never sums history.
Sign convention: ``amount_centavos`` > 0 is a debit, < 0 a credit.
"""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from puente.enums import JournalKind, LedgerAccountType, SuspenseStatus

__all__ = [
    "AccountBalance",
    "InstallmentTotal",
    "JournalEntry",
    "LedgerAccount",
    "Posting",
    "SuspenseItem",
]


class LedgerAccount(Model):
    """An account of the chart: per loan (receivables) or per institution."""

    id = fields.IntField(primary_key=True)
    institution = fields.ForeignKeyField("models.Institution", related_name="ledger_accounts")
    loan = fields.ForeignKeyField("models.Loan", related_name="ledger_accounts", null=True)
    type = fields.CharEnumField(LedgerAccountType, max_length=32)
    provider = fields.CharField(max_length=16, null=True)  # a registered provider's name
    # One natural key, so get-or-create is race free under a unique constraint.
    code = fields.CharField(max_length=120, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ledger_accounts"


class JournalEntry(Model):
    """A balanced set of postings, recorded at once."""

    id = fields.BigIntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int
    loan_id: int | None
    payment_id: int | None
    institution = fields.ForeignKeyField("models.Institution", related_name="journal_entries")
    loan = fields.ForeignKeyField("models.Loan", related_name="journal_entries", null=True)
    payment = fields.ForeignKeyField("models.Payment", related_name="journal_entries", null=True)
    kind = fields.CharEnumField(JournalKind, max_length=16)
    memo = fields.CharField(max_length=300, default="")
    effective_date = fields.DateField()
    # Makes "post this once" safe under concurrency: a second insert fails on the constraint.
    idempotency_key = fields.CharField(max_length=200, unique=True, null=True)
    reverses = fields.OneToOneField(
        "models.JournalEntry", related_name="reversed_by", null=True, on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "journal_entries"


class Posting(Model):
    """One line of a journal entry: an amount on one account, optionally per installment."""

    id = fields.BigIntField(primary_key=True)
    entry = fields.ForeignKeyField(
        "models.JournalEntry", related_name="postings", on_delete=fields.RESTRICT
    )
    account = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="postings", on_delete=fields.RESTRICT
    )
    amount_centavos = fields.BigIntField()
    installment_number = fields.IntField(null=True)
    component = fields.CharField(max_length=24, null=True)

    class Meta:
        table = "postings"


class AccountBalance(Model):
    """Read model: part of an account's balance (debit positive, as postings).

    An account's balance is the sum of its rows. A per-loan account has one row
    (``shard`` 0), updated by each entry that touches it: only that loan's transactions
    lock it. An institution-wide account (cash clearing, bank, VAT, income) is touched by
    every payment, so entries never update a shared row for it: each entry appends its own
    row (``shard`` = the entry's id) and ``fold_institution_deltas`` later adds them into
    shard 0. Kept by ``post_entry``; checked against the postings by ``check_balances``.
    """

    id = fields.BigIntField(primary_key=True)
    account = fields.ForeignKeyField(
        "models.LedgerAccount", related_name="balance_rows", on_delete=fields.RESTRICT
    )
    account_id: int
    shard = fields.BigIntField(default=0)
    balance_centavos = fields.BigIntField(default=0)

    class Meta:
        table = "ledger_balances"
        unique_together = (("account", "shard"),)


class InstallmentTotal(Model):
    """Read model: a loan's tagged postings summed by (installment, component, entry kind).

    What ``loans.activity`` folds into billed, charged, paid and written off: one row per
    key, so reading a loan costs its installments, not its history.
    """

    id = fields.BigIntField(primary_key=True)
    loan = fields.ForeignKeyField(
        "models.Loan", related_name="installment_totals", on_delete=fields.RESTRICT
    )
    loan_id: int
    installment_number = fields.IntField()
    component = fields.CharField(max_length=24, default="")  # "" for an untagged component
    kind = fields.CharEnumField(JournalKind, max_length=16)
    centavos = fields.BigIntField(default=0)  # debit positive, on the loan's own accounts

    class Meta:
        table = "loan_installment_totals"
        unique_together = (("loan", "installment_number", "component", "kind"),)


class SuspenseItem(Model):
    """An exception for staff: money credited to suspense by one journal entry, and why.

    Received money always reaches the books: what no loan can take is held in the
    institution's suspense account, and this row makes it visible until staff resolve it.
    """

    id = fields.IntField(primary_key=True)
    institution = fields.ForeignKeyField("models.Institution", related_name="suspense_items")
    loan = fields.ForeignKeyField("models.Loan", related_name="suspense_items", null=True)
    payment = fields.ForeignKeyField("models.Payment", related_name="suspense_items", null=True)
    entry = fields.OneToOneField(
        "models.JournalEntry", related_name="suspense_item", on_delete=fields.RESTRICT
    )
    amount_centavos = fields.BigIntField()
    reason = fields.CharField(max_length=32)  # SuspenseReason
    source = fields.CharField(max_length=200, default="")  # who brought the money
    status = fields.CharEnumField(SuspenseStatus, max_length=10, default=SuspenseStatus.OPEN)
    resolution = fields.CharField(max_length=300, default="")
    resolved_by = fields.ForeignKeyField(
        "models.User", related_name="resolved_suspense_items", null=True
    )
    resolved_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "suspense_items"
