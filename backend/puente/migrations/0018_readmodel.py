from tortoise import migrations
from tortoise.migrations import operations as ops
from puente.enums import JournalKind
from tortoise.fields.base import OnDelete
from tortoise import fields

# The backfill, frozen here as it was when the tables were created (ledger/balances.py
# keeps the live copy): every balance and installment total from the postings so far.
BACKFILL = (
    "INSERT INTO ledger_balances (account_id, shard, balance_centavos) "
    "SELECT account_id, 0, SUM(amount_centavos) FROM postings GROUP BY account_id",
    "INSERT INTO loan_installment_totals "
    "(loan_id, installment_number, component, kind, centavos) "
    "SELECT a.loan_id, p.installment_number, COALESCE(p.component, ''), e.kind, "
    "SUM(p.amount_centavos) FROM postings p "
    "JOIN ledger_accounts a ON a.id = p.account_id "
    "JOIN journal_entries e ON e.id = p.entry_id "
    "WHERE a.loan_id IS NOT NULL AND p.installment_number IS NOT NULL "
    "GROUP BY a.loan_id, p.installment_number, COALESCE(p.component, ''), e.kind",
)


async def backfill(apps, schema_editor):
    for statement in BACKFILL:
        await schema_editor.client.execute_script(statement)


async def forget(apps, schema_editor):
    for table in ("ledger_balances", "loan_installment_totals"):
        await schema_editor.client.execute_script(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    """The ledger's read model: running balances per account and per-installment totals,
    kept by post_entry with the postings; backfilled from the postings already there."""

    dependencies = [("models", "0017_rep")]

    initial = False

    operations = [
        ops.CreateModel(
            name='AccountBalance',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('account', fields.ForeignKeyField('models.LedgerAccount', source_field='account_id', db_constraint=True, to_field='id', related_name='balance_rows', on_delete=OnDelete.RESTRICT)),
                ('shard', fields.BigIntField(default=0)),
                ('balance_centavos', fields.BigIntField(default=0)),
            ],
            options={'table': 'ledger_balances', 'app': 'models', 'unique_together': (('account', 'shard'),), 'pk_attr': 'id', 'table_description': "Read model: part of an account's balance (debit positive, as postings)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InstallmentTotal',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('loan', fields.ForeignKeyField('models.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='installment_totals', on_delete=OnDelete.RESTRICT)),
                ('installment_number', fields.IntField()),
                ('component', fields.CharField(default='', max_length=24)),
                ('kind', fields.CharEnumField(description='', enum_type=JournalKind, max_length=16)),
                ('centavos', fields.BigIntField(default=0)),
            ],
            options={'table': 'loan_installment_totals', 'app': 'models', 'unique_together': (('loan', 'installment_number', 'component', 'kind'),), 'pk_attr': 'id', 'table_description': "Read model: a loan's tagged postings summed by (installment, component, entry kind)."},
            bases=['Model'],
        ),
        ops.RunPython(backfill, forget),
    ]
