from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops

from puente.enums import DisbursementStatus, ProviderName


class Migration(migrations.Migration):
    """Disbursements: the SPEI payout of each loan, tracked until it settles."""

    dependencies = [("models", "0004_provider_event_normalised")]

    initial = False

    operations = [
        ops.CreateModel(
            name="Disbursement",
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
                        related_name="disbursements",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                (
                    "loan",
                    fields.OneToOneField(
                        "models.Loan",
                        source_field="loan_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="disbursement",
                        on_delete=OnDelete.CASCADE,
                    ),
                ),
                ("provider", fields.CharEnumField(enum_type=ProviderName, max_length=16)),
                ("amount_centavos", fields.BigIntField()),
                ("clabe_enc", fields.TextField()),
                ("clabe_last4", fields.CharField(max_length=4)),
                ("beneficiary_name", fields.CharField(max_length=120)),
                ("clave_rastreo", fields.CharField(unique=True, max_length=30)),
                ("provider_reference", fields.CharField(null=True, max_length=64, db_index=True)),
                (
                    "status",
                    fields.CharEnumField(
                        default=DisbursementStatus.PENDING,
                        enum_type=DisbursementStatus,
                        max_length=12,
                    ),
                ),
                ("failure_message", fields.CharField(null=True, max_length=300)),
                ("settled_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ("updated_at", fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={
                "table": "disbursements",
                "app": "models",
                "pk_attr": "id",
                "table_description": "The SPEI transfer that pays a loan out to the borrower.",
            },
            bases=["Model"],
        ),
    ]
