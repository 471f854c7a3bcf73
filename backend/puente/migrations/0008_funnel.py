import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """No charge lost, no payout stuck: a payment keeps what it sent to the provider (to send
    it again under the same idempotency key), a webhook keeps the Puente payment id the
    provider echoed back, and a loan may have a new payout attempt after one failed."""

    dependencies = [("models", "0007_payable")]

    initial = False

    operations = [
        ops.AlterField(
            model_name="Disbursement",
            name="loan",
            field=fields.ForeignKeyField(
                "models.Loan",
                source_field="loan_id",
                db_constraint=True,
                to_field="id",
                related_name="disbursements",
                on_delete=OnDelete.CASCADE,
            ),
        ),
        ops.AddField(
            model_name="Payment",
            name="provider_request",
            field=fields.JSONField(
                null=True, encoder=functools.partial(dumps, separators=(",", ":")), decoder=loads
            ),
        ),
        ops.AddField(
            model_name="ProviderEvent",
            name="puente_payment_id",
            field=fields.CharField(null=True, max_length=32),
        ),
    ]
