from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise import fields
from tortoise.migrations.constraints import UniqueConstraint


class RemoveUniqueTogether(ops.RemoveConstraint):
    """RemoveConstraint that also works on SQLite.

    SQLite keeps a unique_together as an inline table constraint that no DROP INDEX can
    remove, so there the table is rebuilt from the new state (SQLite's documented way to alter
    a table). PostgreSQL drops the constraint as usual.
    """

    async def database_forward(self, app_label, old_state, new_state, state_editor=None):
        if state_editor is not None and state_editor.client.capabilities.dialect == "sqlite":
            model = new_state.apps.get_model(f"{app_label}.{self.model_name}")
            await state_editor._remake_table(model)
            return
        await super().database_forward(app_label, old_state, new_state, state_editor)


class Migration(migrations.Migration):
    dependencies = [('models', '0002_ledger_append_only')]

    initial = False

    operations = [
        RemoveUniqueTogether(
            model_name='Installment',
            name=None,
            fields=['loan', 'number'],
        ),
        ops.AddField(
            model_name='Installment',
            name='superseded_on',
            field=fields.DateField(null=True),
        ),
        ops.AddField(
            model_name='Installment',
            name='version',
            field=fields.IntField(default=1),
        ),
        ops.AddConstraint(
            model_name='Installment',
            constraint=UniqueConstraint(fields=('loan', 'number', 'version'), name=None),
        ),
        ops.AddField(
            model_name='Loan',
            name='overpayment_mode',
            field=fields.CharField(default='ADVANCE', max_length=24),
        ),
        ops.AddField(
            model_name='Loan',
            name='settings',
            field=fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
