from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index
from tortoise.migrations import operations as ops

from puente.collections.models import AttemptStatus, MandateStatus

# Reading one loan's state (payoff, balances, activity) filters the ledger by loan, entry and
# account: without these the scheduled charge job scans the whole ledger for every charge
# and slows down as the book grows (bench/collections.py). Foreign keys are not indexed by
# either database on their own.
LEDGER_INDEXES = (
    ("idx_journal_entries_loan", "journal_entries", "loan_id"),
    ("idx_postings_entry", "postings", "entry_id"),
    ("idx_postings_account", "postings", "account_id"),
    ("idx_ledger_accounts_loan", "ledger_accounts", "loan_id"),
    ("idx_payments_loan", "payments", "loan_id"),
    ("idx_mandates_card", "mandates", "payment_method_id"),
)


async def create_indexes(apps, schema_editor):
    for name, table, column in LEDGER_INDEXES:
        await schema_editor.client.execute_script(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column});"
        )


async def drop_indexes(apps, schema_editor):
    for name, _, _ in LEDGER_INDEXES:
        await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {name};")


class Migration(migrations.Migration):
    """Collections: saved-card default, providers' own decline codes, mandates, attempts."""

    dependencies = [("models", "0012_reconciliation")]

    initial = False

    operations = [
        ops.AddField(
            model_name="PaymentMethod",
            name="is_default",
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name="Payment",
            name="provider_failure_code",
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.CreateModel(
            name="Mandate",
            fields=[
                ("id", fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("institution", fields.ForeignKeyField("models.Institution", source_field="institution_id", db_constraint=True, to_field="id", related_name="mandates", on_delete=OnDelete.CASCADE)),
                ("loan", fields.ForeignKeyField("models.Loan", source_field="loan_id", db_constraint=True, to_field="id", related_name="mandates", on_delete=OnDelete.CASCADE)),
                ("user", fields.ForeignKeyField("models.User", source_field="user_id", db_constraint=True, to_field="id", related_name="mandates", on_delete=OnDelete.CASCADE)),
                ("payment_method", fields.ForeignKeyField("models.PaymentMethod", source_field="payment_method_id", db_constraint=True, to_field="id", related_name="mandates", on_delete=OnDelete.CASCADE)),
                ("status", fields.CharEnumField(default=MandateStatus.ACTIVE, description="ACTIVE: active\nREVOKED: revoked\nNEEDS_METHOD: needs_method", enum_type=MandateStatus, max_length=16)),
                ("text_version", fields.CharField(max_length=32)),
                ("text_sha256", fields.CharField(max_length=64)),
                ("valid_until", fields.DateField()),
                ("signed_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("signed_origin", fields.CharField(max_length=300)),
                ("revoked_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("revoked_origin", fields.CharField(null=True, max_length=300)),
            ],
            options={"table": "mandates", "app": "models", "indexes": [Index(fields=["loan_id", "status"])], "pk_attr": "id", "table_description": "A borrower's consent to charge one loan's due amounts to one saved card."},
            bases=["Model"],
        ),
        ops.CreateModel(
            name="ChargeAttempt",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("institution", fields.ForeignKeyField("models.Institution", source_field="institution_id", db_constraint=True, to_field="id", related_name="charge_attempts", on_delete=OnDelete.CASCADE)),
                ("loan", fields.ForeignKeyField("models.Loan", source_field="loan_id", db_constraint=True, to_field="id", related_name="charge_attempts", on_delete=OnDelete.CASCADE)),
                ("mandate", fields.ForeignKeyField("models.Mandate", source_field="mandate_id", db_constraint=True, to_field="id", related_name="attempts", on_delete=OnDelete.CASCADE)),
                ("payment", fields.ForeignKeyField("models.Payment", source_field="payment_id", null=True, db_constraint=True, to_field="id", related_name="charge_attempts", on_delete=OnDelete.CASCADE)),
                ("installment_number", fields.IntField()),
                ("attempt", fields.IntField()),
                ("scheduled_for", fields.DateField()),
                ("status", fields.CharEnumField(default=AttemptStatus.SCHEDULED, description="SCHEDULED: scheduled\nCHARGING: charging\nPAID: paid\nPROCESSING: processing\nDECLINED: declined\nCANCELED: canceled", enum_type=AttemptStatus, max_length=12)),
                ("amount_centavos", fields.BigIntField(null=True)),
                ("decline_code", fields.CharField(null=True, max_length=64)),
                ("action", fields.CharField(null=True, max_length=24)),
                ("detail", fields.CharField(null=True, max_length=300)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={"table": "charge_attempts", "app": "models", "unique_together": (("loan", "installment_number", "attempt"),), "indexes": [Index(fields=["status", "scheduled_for"])], "pk_attr": "id", "table_description": "One try at charging a loan's amount due under a mandate."},
            bases=["Model"],
        ),
        ops.RunPython(create_indexes, drop_indexes),
]
