from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from puente.scheduling.models import JobRunStatus


class Migration(migrations.Migration):
    """Job runs with leases (one replica runs each scheduled job), and the request id that
    received each webhook (so its processing logs under the same id)."""

    dependencies = [("models", "0005_disbursements")]

    initial = False

    operations = [
        ops.CreateModel(
            name="JobRun",
            fields=[
                ("id", fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ("job", fields.CharField(max_length=64)),
                ("run_key", fields.CharField(max_length=64)),
                (
                    "status",
                    fields.CharEnumField(
                        default=JobRunStatus.RUNNING,
                        description="RUNNING: running\nSUCCEEDED: succeeded\nFAILED: failed",
                        enum_type=JobRunStatus,
                        max_length=12,
                    ),
                ),
                ("holder", fields.CharField(max_length=128)),
                ("lease_until", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("attempts", fields.IntField(default=1)),
                ("started_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("finished_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ("detail", fields.TextField(null=True, unique=False)),
            ],
            options={
                "table": "job_runs",
                "app": "models",
                "unique_together": (("job", "run_key"),),
                "pk_attr": "id",
                "table_description": "A job's run for one key (the daily job's key is its date), leased to one process.",
            },
            bases=["Model"],
        ),
        ops.AddField(
            model_name="ProviderEvent",
            name="request_id",
            field=fields.CharField(null=True, max_length=64),
        ),
    ]
