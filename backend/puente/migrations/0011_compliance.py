import functools
from json import dumps, loads

from tortoise import fields, migrations
from tortoise.fields.base import OnDelete
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    """Compliance: loan applications (KYC) and documents, watch lists, FIX rates, AML alerts,
    cases and suspensions."""

    dependencies = [("models", "0010_auth_sessions")]

    initial = False

    operations = [
        ops.CreateModel(
            name="AmlCase",
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
                        related_name="aml_cases",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="customer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="aml_cases",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("report_kind", fields.CharField(max_length=16)),
                ("status", fields.CharField(default="open", max_length=16)),
                ("opened_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("due_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("closed_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "closed_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="closed_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="closed_aml_cases",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("reason", fields.CharField(default="", max_length=1000)),
                ("report_file", fields.CharField(null=True, max_length=200)),
            ],
            options={
                "table": "aml_cases",
                "app": "models",
                "pk_attr": "id",
                "table_description": (
                    "Alerts about one customer grouped for "
                    "the compliance officer, with its deadline."
                ),
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="AmlAlert",
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
                        related_name="aml_alerts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="customer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="aml_alerts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "case",
                    fields.ForeignKeyField(
                        "models.AmlCase",
                        source_field="case_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="alerts",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("rule", fields.CharField(max_length=48)),
                ("report_kind", fields.CharField(max_length=16)),
                ("summary", fields.CharField(max_length=500)),
                (
                    "payment_ids",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "evidence",
                    fields.JSONField(
                        default=dict,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("dedupe_key", fields.CharField(unique=True, max_length=120)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "aml_alerts",
                "app": "models",
                "pk_attr": "id",
                "table_description": "What a rule or a list hit raised, with its evidence.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="CustomerSuspension",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "customer",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="customer_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="aml_suspensions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "case",
                    fields.ForeignKeyField(
                        "models.AmlCase",
                        source_field="case_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="suspensions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("reason", fields.CharField(max_length=300)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ("lifted_at", fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                (
                    "lifted_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="lifted_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="lifted_suspensions",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
            ],
            options={
                "table": "aml_suspensions",
                "app": "models",
                "pk_attr": "id",
                "table_description": (
                    "A customer whose operations are suspended (a blocked-list hit) until lifted."
                ),
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="FixRate",
            fields=[
                ("day", fields.DateField(primary_key=True, unique=True, db_index=True)),
                ("mxn_per_usd", fields.DecimalField(max_digits=10, decimal_places=4)),
            ],
            options={
                "table": "fix_rates",
                "app": "models",
                "pk_attr": "day",
                "table_description": "Banxico FIX exchange rate (MXN per USD) for one day.",
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="LoanApplication",
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
                        related_name="loan_applications",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "user",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="user_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="loan_applications",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "product",
                    fields.ForeignKeyField(
                        "models.LoanProduct",
                        source_field="product_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="applications",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("status", fields.CharField(default="submitted", max_length=16)),
                ("full_name", fields.CharField(max_length=200)),
                ("data_enc", fields.TextField(unique=False)),
                ("curp_index", fields.CharField(db_index=True, max_length=64)),
                ("rfc_index", fields.CharField(db_index=True, max_length=64)),
                ("clabe_index", fields.CharField(db_index=True, max_length=64)),
                ("clabe_last4", fields.CharField(max_length=4)),
                ("requested_centavos", fields.BigIntField()),
                ("term_count", fields.IntField()),
                ("monthly_income_centavos", fields.BigIntField()),
                ("own_account", fields.BooleanField(default=True)),
                ("risk_grade", fields.CharField(max_length=8)),
                ("risk_points", fields.IntField(default=0)),
                (
                    "risk_reasons",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                (
                    "screening",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
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
                        related_name="application",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "reviewed_by",
                    fields.ForeignKeyField(
                        "models.User",
                        source_field="reviewed_by_id",
                        null=True,
                        db_constraint=True,
                        to_field="id",
                        related_name="reviewed_applications",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                (
                    "reviewed_at",
                    fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
                ),
                ("review_note", fields.CharField(default="", max_length=500)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "loan_applications",
                "app": "models",
                "pk_attr": "id",
                "table_description": (
                    "A persona fisica applying for a loan (digital onboarding), reviewed by staff."
                ),
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="KycDocument",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                (
                    "application",
                    fields.ForeignKeyField(
                        "models.LoanApplication",
                        source_field="application_id",
                        db_constraint=True,
                        to_field="id",
                        related_name="documents",
                        on_delete=OnDelete.RESTRICT,
                    ),
                ),
                ("kind", fields.CharField(max_length=32)),
                ("content_type", fields.CharField(max_length=40)),
                ("size_bytes", fields.IntField()),
                ("sha256", fields.CharField(max_length=64)),
                ("content_enc", fields.TextField(unique=False)),
                ("created_at", fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={
                "table": "kyc_documents",
                "app": "models",
                "unique_together": (("application", "kind"),),
                "pk_attr": "id",
                "table_description": (
                    "An uploaded KYC document, encrypted at rest, "
                    "served only to its owner and staff."
                ),
            },
            bases=["Model"],
        ),
        ops.CreateModel(
            name="WatchlistEntry",
            fields=[
                (
                    "id",
                    fields.IntField(generated=True, primary_key=True, unique=True, db_index=True),
                ),
                ("kind", fields.CharField(db_index=True, max_length=16)),
                ("entry_id", fields.CharField(max_length=64)),
                ("name", fields.CharField(max_length=300)),
                (
                    "aliases",
                    fields.JSONField(
                        default=list,
                        encoder=functools.partial(dumps, separators=(",", ":")),
                        decoder=loads,
                    ),
                ),
                ("curp", fields.CharField(null=True, max_length=18)),
                ("rfc", fields.CharField(null=True, max_length=13)),
                ("birth_date", fields.DateField(null=True)),
                ("source", fields.CharField(default="", max_length=200)),
                ("loaded_at", fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={
                "table": "watchlist_entries",
                "app": "models",
                "unique_together": (("kind", "entry_id"),),
                "pk_attr": "id",
                "table_description": (
                    "One person on a loaded list (UIF blocked persons, PEP, sanctions)."
                ),
            },
            bases=["Model"],
        ),
    ]
