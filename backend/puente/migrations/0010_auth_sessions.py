from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Sessions: a per-user session version, and login throttles that replace login_failures."""

    dependencies = [("models", "0009_webhook_verification")]

    initial = False

    operations = [
        ops.AddField(
            model_name="User",
            name="session_version",
            field=fields.IntField(default=0),
        ),
        ops.DeleteModel(name="LoginFailure"),
        ops.CreateModel(
            name="LoginThrottle",
            fields=[
                ("key", fields.CharField(primary_key=True, unique=True, db_index=True, max_length=80)),
                ("attempts", fields.IntField(default=0)),
                ("window_start", fields.BigIntField(default=0)),
                ("blocked_until", fields.BigIntField(default=0)),
            ],
            options={
                "table": "login_throttles",
                "app": "models",
                "pk_attr": "key",
                "table_description": (
                    "Login attempts counted per account or per client address, shared by every"
                    " process."
                ),
            },
            bases=["Model"],
        ),
    ]
