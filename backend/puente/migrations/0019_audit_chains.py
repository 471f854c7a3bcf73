from tortoise import fields, migrations
from tortoise.migrations import operations as ops
from tortoise.migrations.constraints import UniqueConstraint


class RemoveUniqueColumn(ops.AlterField):
    """AlterField dropping a column's UNIQUE, also on SQLite (inline there: the table is
    rebuilt from the new state, SQLite's documented way to alter a table)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
            await state_editor._remake_table(model)
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


async def one_head_per_chain(apps, schema_editor):
    client = schema_editor.client
    await client.execute_script(
        "CREATE UNIQUE INDEX IF NOT EXISTS uid_audit_chain_head_owner "
        "ON audit_chain_head ((COALESCE(institution_id, 0)));"
    )
    if client.capabilities.dialect == "postgres":
        # The legacy head was inserted as id 1 without the sequence: new heads take the next.
        await client.execute_script(
            "SELECT setval(pg_get_serial_sequence('audit_chain_head', 'id'), "
            "GREATEST((SELECT MAX(id) FROM audit_chain_head), 1));"
        )


async def drop_head_index(apps, schema_editor):
    await schema_editor.client.execute_script("DROP INDEX IF EXISTS uid_audit_chain_head_owner;")


class AddChainColumn(ops.AddField):
    """AddField whose column gets its default in the database too, so the rows already in
    the log are filled in (Tortoise's own AddField leaves them NULL, refused as NOT NULL)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is None:
            return
        await state_editor.client.execute_script(
            "ALTER TABLE audit_events ADD COLUMN chain_id INT NOT NULL DEFAULT 1;"
        )


class Migration(migrations.Migration):
    """One audit chain per institution instead of one for everything (issue 15 #3): a
    writer locks only its institution's chain head. Every existing entry stays where it is,
    on chain 1 (head row 1, now the system chain, which goes on with entries that name
    no institution); each institution's chain starts at seq 1 from the genesis hash on its
    first new entry. ``puente audit verify`` walks every chain."""

    dependencies = [("models", "0018_readmodel")]

    initial = False

    operations = [
        AddChainColumn(
            model_name="AuditEvent",
            name="chain_id",
            field=fields.IntField(default=1),
        ),
        RemoveUniqueColumn(
            model_name="AuditEvent",
            name="seq",
            field=fields.BigIntField(),
        ),
        ops.AddConstraint(
            model_name="AuditEvent",
            constraint=UniqueConstraint(fields=("chain_id", "seq"), name=None),
        ),
        ops.AddField(
            model_name="AuditChainHead",
            name="institution_id",
            field=fields.IntField(null=True),
        ),
        ops.RunPython(one_head_per_chain, drop_head_index),
    ]
