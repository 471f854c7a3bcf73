from tortoise import migrations
from tortoise.migrations import operations as ops

# Reconciliation reads its history by foreign key: which payments and disbursements a booked
# match already explains (expected.load_expected, for every window of every statement), a
# payment's bank facts (reads.bank_facts_for_payments), a line's matches and exception.
# Neither database indexes a foreign key on its own: without these each of those reads scans
# every match ever booked, so reconciling slows down as the history grows (bench/reconcile.py).
RECONCILIATION_INDEXES = (
    ("idx_statement_matches_line", "statement_matches", "line_id"),
    ("idx_statement_matches_payment", "statement_matches", "payment_id"),
    ("idx_statement_matches_disbursement", "statement_matches", "disbursement_id"),
    ("idx_reconciliation_exceptions_line", "reconciliation_exceptions", "line_id"),
)


async def create_indexes(apps, schema_editor):
    for name, table, column in RECONCILIATION_INDEXES:
        await schema_editor.client.execute_script(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({column});"
        )


async def drop_indexes(apps, schema_editor):
    for name, _, _ in RECONCILIATION_INDEXES:
        await schema_editor.client.execute_script(f"DROP INDEX IF EXISTS {name};")


class Migration(migrations.Migration):
    """Reconciliation: indexes on the foreign keys its history is read by."""

    dependencies = [("models", "0019_audit_chains")]

    initial = False

    operations = [
        ops.RunPython(create_indexes, drop_indexes),
    ]
