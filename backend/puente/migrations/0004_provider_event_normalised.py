from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Keep the verified, normalised reading of each webhook next to its raw body, so
    processing (which may run long after the signature's freshness window) never has to
    verify the signature again."""

    dependencies = [("models", "0003_contract_versions")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ProviderEvent",
            name="kind",
            field=fields.CharField(default="unknown", max_length=40),
        ),
        ops.AddField(
            model_name="ProviderEvent",
            name="provider_payment_id",
            field=fields.CharField(null=True, max_length=200, db_index=True),
        ),
        ops.AddField(
            model_name="ProviderEvent",
            name="amount_centavos",
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name="ProviderEvent",
            name="occurred_at",
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
    ]
