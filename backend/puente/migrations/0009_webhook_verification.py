from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Webhook verification levels: remember whether a stored body was signed, so an
    unsigned one is confirmed with the provider before it moves money. (The new ``exception``
    status of provider events fits the existing 12-character column.)"""

    dependencies = [("models", "0008_funnel")]

    initial = False

    operations = [
        ops.AddField(
            model_name="ProviderEvent",
            name="body_authenticated",
            field=fields.BooleanField(default=False),
        ),
    ]
