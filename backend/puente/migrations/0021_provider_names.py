from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# The provider columns were CharEnumField(ProviderName): already varchar(16) in both databases,
# but Tortoise refused any name outside the enum, so a provider installed by entry point could
# store nothing. They become plain CharField(16); the doors check a name against the registry.
# Only the model state changes: the columns already are varchar(16) on SQLite and PostgreSQL,
# and a plain AlterField would rebuild five SQLite tables (their triggers, indexes and the
# foreign keys pointing at them) to write the same column again. The rows stay as they are.
PROVIDER_COLUMNS = (
    ("Disbursement", False),
    ("LedgerAccount", True),
    ("Payment", False),
    ("PaymentMethod", False),
    ("ProviderAccount", False),
    ("ProviderEvent", False),
)


class AlterFieldStateOnly(ops.AlterField):
    """``AlterField`` for a change the database cannot see (same column type)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        return None

    async def database_backward(self, app_label, old_state, new_state, state_editor=None):
        return None


class Migration(migrations.Migration):
    """Provider names are text validated against the registry, not a closed enum."""

    dependencies = [("models", "0020_recon_indexes")]

    initial = False

    operations = [
        AlterFieldStateOnly(
            model_name=model,
            name="provider",
            field=fields.CharField(max_length=16, null=nullable),
        )
        for model, nullable in PROVIDER_COLUMNS
    ]
