from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from puente.enums import SuspenseStatus


class Migration(migrations.Migration):
    """Suspense exceptions for staff, and what money beyond what is due does (issue 8)."""

    dependencies = [("models", "0006_observability")]

    initial = False

    operations = [
        ops.CreateModel(
            name="SuspenseItem",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "institution",
                    fields.ForeignKeyField(
                        "models.Institution",
                        source_field="institution_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="suspense_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "loan",
                    fields.ForeignKeyField(
                        "models.Loan",
                        source_field="loan_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="suspense_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "payment",
                    fields.ForeignKeyField(
                        "models.Payment",
                        source_field="payment_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="suspense_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "entry",
                    fields.OneToOneField(
                        "models.JournalEntry",
                        source_field="entry_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="suspense_item",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("amount_centavos", fields.BigIntField()),
                ("reason", fields.CharField(max_length=32)),
                ("source", fields.CharField(default="", max_length=200)),
                (
                    "status",
                    fields.CharEnumField(
                        default=SuspenseStatus.OPEN,
                        description="OPEN: open\nRESOLVED: resolved",
                        enum_type=SuspenseStatus,
                        max_length=10,
                    ),
                ),
                ("resolution", fields.CharField(default="", max_length=300)),
                (
                    "resolved_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="resolved_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="resolved_suspense_items",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "resolved_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "suspense_items",
                "app": "models",
                "pk_attr": "id",
                "table_description": (
                    "An exception for staff: money credited to suspense by one journal entry,"
                    " and why."
                ),
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="LoanProduct",
            name="default_prepayment_mode",
            field=fields.CharField(default="ADVANCE", max_length=24),
        ),
        ops.AddField(
            model_name="Payment",
            name="prepayment_mode",
            field=fields.CharField(null=True, max_length=24),
        ),
        ops.AddField(
            model_name="Payment",
            name="prepayment_mode_chosen",
            field=fields.BooleanField(default=False),
        ),
    ]
