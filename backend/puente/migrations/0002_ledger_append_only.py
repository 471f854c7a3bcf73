"""Make the ledger append-only in the database itself: postings and journal entries
can be inserted but never updated or deleted (a correction is a reversing entry)."""

from tortoise import migrations
from tortoise.migrations import operations as ops

TABLES = ("postings", "journal_entries")

SQLITE_FORWARD = [
    f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
BEGIN SELECT RAISE(ABORT, 'ledger is append-only: {table} cannot be {done}'); END;"""
    for table in TABLES
    for verb, done in (("UPDATE", "updated"), ("DELETE", "deleted"))
]

POSTGRES_FORWARD = [
    """CREATE OR REPLACE FUNCTION puente_ledger_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'ledger is append-only: % rows cannot be changed (%)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;""",
    *[
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION puente_ledger_append_only();"""
        for table in TABLES
    ],
]


async def forward(apps, schema_editor):
    dialect = schema_editor.client.capabilities.dialect
    statements = POSTGRES_FORWARD if dialect == "postgres" else SQLITE_FORWARD
    for statement in statements:
        await schema_editor.client.execute_script(statement)


async def backward(apps, schema_editor):
    dialect = schema_editor.client.capabilities.dialect
    if dialect == "postgres":
        for table in TABLES:
            await schema_editor.client.execute_script(
                f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
            )
        await schema_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS puente_ledger_append_only();"
        )
    else:
        for table in TABLES:
            for verb in ("update", "delete"):
                await schema_editor.client.execute_script(
                    f"DROP TRIGGER IF EXISTS {table}_no_{verb};"
                )


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [ops.RunPython(forward, backward)]
