from tortoise import migrations
import functools
from json import dumps, loads
from tortoise.migrations import operations as ops
from puente.enums import LedgerAccountType
from puente.reconciliation.enums import Direction, ExceptionStatus, LineStatus, MatchStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

# Reconciliation keeps its history: a statement, line, match or exception is never deleted
# (a wrong match is rejected, an exception resolved), so the database refuses DELETE.
TABLES = (
    "bank_statements",
    "statement_lines",
    "statement_matches",
    "reconciliation_exceptions",
    "gateway_settlements",
)

SQLITE_FORWARD = [
    f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'reconciliation keeps its history: {table} cannot be deleted'); END;"""
    for table in TABLES
]

POSTGRES_FORWARD = [
    """CREATE OR REPLACE FUNCTION puente_reconciliation_no_delete() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'reconciliation keeps its history: % rows cannot be deleted', TG_TABLE_NAME
    USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;""",
    *[
        f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION puente_reconciliation_no_delete();"""
        for table in TABLES
    ],
]


async def forbid_deletes(apps, schema_editor):
    dialect = schema_editor.client.capabilities.dialect
    for statement in POSTGRES_FORWARD if dialect == "postgres" else SQLITE_FORWARD:
        await schema_editor.client.execute_script(statement)


async def allow_deletes(apps, schema_editor):
    postgres = schema_editor.client.capabilities.dialect == "postgres"
    for table in TABLES:
        on = f" ON {table}" if postgres else ""
        await schema_editor.client.execute_script(f"DROP TRIGGER IF EXISTS {table}_no_delete{on};")
    if postgres:
        await schema_editor.client.execute_script(
            "DROP FUNCTION IF EXISTS puente_reconciliation_no_delete();"
        )


class Migration(migrations.Migration):
    """Reconciliation: statements, lines, matches, exceptions; fee and IVA-acreditable accounts."""

    dependencies = [('models', '0011_compliance')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BankStatement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='bank_statements', on_delete=OnDelete.CASCADE)),
                ('account', fields.CharField(max_length=64)),
                ('format', fields.CharField(max_length=32)),
                ('statement_ref', fields.CharField(default='', max_length=120)),
                ('file_name', fields.CharField(default='', max_length=200)),
                ('file_sha256', fields.CharField(max_length=64)),
                ('line_count', fields.IntField(default=0)),
                ('new_count', fields.IntField(default=0)),
                ('duplicate_count', fields.IntField(default=0)),
                ('imported_by', fields.ForeignKeyField('models.User', source_field='imported_by_id', null=True, db_constraint=True, to_field='id', related_name='imported_statements', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'bank_statements', 'app': 'models', 'unique_together': (('institution', 'file_sha256'),), 'pk_attr': 'id', 'table_description': 'One imported file: where it came from and what its import found.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatementLine',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='statement_lines', on_delete=OnDelete.CASCADE)),
                ('statement', fields.ForeignKeyField('models.BankStatement', source_field='statement_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.RESTRICT)),
                ('account', fields.CharField(max_length=64)),
                ('dedup_key', fields.CharField(max_length=64)),
                ('position', fields.IntField()),
                ('direction', fields.CharEnumField(description='CREDIT: credit\nDEBIT: debit', enum_type=Direction, max_length=6)),
                ('amount_centavos', fields.BigIntField()),
                ('currency', fields.CharField(default='MXN', max_length=3)),
                ('booking_date', fields.DateField(null=True)),
                ('value_date', fields.DateField(null=True)),
                ('clave_rastreo', fields.CharField(default='', max_length=40)),
                ('reference', fields.CharField(default='', max_length=40)),
                ('bank_reference', fields.CharField(default='', max_length=80)),
                ('end_to_end_id', fields.CharField(default='', max_length=80)),
                ('counterparty_name', fields.CharField(default='', max_length=140)),
                ('counterparty_account', fields.CharField(default='', max_length=40)),
                ('beneficiary_account', fields.CharField(default='', max_length=40)),
                ('concept', fields.CharField(default='', max_length=300)),
                ('status', fields.CharEnumField(default=LineStatus.UNMATCHED, description='UNMATCHED: unmatched\nMATCHED: matched\nSUGGESTED: suggested\nEXCEPTION: exception\nRESOLVED: resolved', enum_type=LineStatus, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'statement_lines', 'app': 'models', 'unique_together': (('institution', 'dedup_key'),), 'indexes': [Index(fields=['institution_id', 'status'])], 'pk_attr': 'id', 'table_description': 'A movement of the bank account, stored once however many statements repeat it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReconciliationException',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='reconciliation_exceptions', on_delete=OnDelete.CASCADE)),
                ('line', fields.ForeignKeyField('models.StatementLine', source_field='line_id', db_constraint=True, to_field='id', related_name='exceptions', on_delete=OnDelete.RESTRICT)),
                ('reason', fields.CharField(max_length=24)),
                ('detail', fields.CharField(default='', max_length=300)),
                ('suspense_item', fields.ForeignKeyField('models.SuspenseItem', source_field='suspense_item_id', null=True, db_constraint=True, to_field='id', related_name='reconciliation_exceptions', on_delete=OnDelete.CASCADE)),
                ('status', fields.CharEnumField(default=ExceptionStatus.OPEN, description='OPEN: open\nRESOLVED: resolved', enum_type=ExceptionStatus, max_length=10)),
                ('resolution', fields.CharField(null=True, max_length=24)),
                ('note', fields.CharField(default='', max_length=300)),
                ('resolved_by', fields.ForeignKeyField('models.User', source_field='resolved_by_id', null=True, db_constraint=True, to_field='id', related_name='resolved_reconciliation_exceptions', on_delete=OnDelete.CASCADE)),
                ('resolved_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'reconciliation_exceptions', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A line nothing explains (or explains only in part), until staff resolve it.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StatementMatch',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='statement_matches', on_delete=OnDelete.CASCADE)),
                ('line', fields.ForeignKeyField('models.StatementLine', source_field='line_id', db_constraint=True, to_field='id', related_name='matches', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=16)),
                ('strategy', fields.CharField(max_length=16)),
                ('key', fields.CharField(default='', max_length=40)),
                ('confidence', fields.SmallIntField()),
                ('amount_centavos', fields.BigIntField()),
                ('payment', fields.ForeignKeyField('models.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='statement_matches', on_delete=OnDelete.CASCADE)),
                ('loan', fields.ForeignKeyField('models.Loan', source_field='loan_id', null=True, db_constraint=True, to_field='id', related_name='statement_matches', on_delete=OnDelete.CASCADE)),
                ('disbursement', fields.ForeignKeyField('models.Disbursement', source_field='disbursement_id', null=True, db_constraint=True, to_field='id', related_name='statement_matches', on_delete=OnDelete.CASCADE)),
                ('settlement_ref', fields.CharField(default='', max_length=80)),
                ('status', fields.CharEnumField(description='BOOKED: booked\nSUGGESTED: suggested\nREJECTED: rejected', enum_type=MatchStatus, max_length=10)),
                ('entry', fields.ForeignKeyField('models.JournalEntry', source_field='entry_id', null=True, db_constraint=True, to_field='id', related_name='statement_matches', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'statement_matches', 'app': 'models', 'pk_attr': 'id', 'table_description': 'What explains a line (or part of it), how sure the matcher was, what was posted.'},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='LedgerAccount',
            name='type',
            field=fields.CharEnumField(description='LOAN_PRINCIPAL: loan_principal\nLOAN_INTEREST: loan_interest\nLOAN_INTEREST_VAT: loan_interest_vat\nLOAN_LATE_INTEREST: loan_late_interest\nLOAN_LATE_INTEREST_VAT: loan_late_interest_vat\nLOAN_FEES: loan_fees\nLOAN_FEE_VAT: loan_fee_vat\nLOAN_ADVANCE: loan_advance\nCASH_CLEARING: cash_clearing\nBANK: bank\nSUSPENSE: suspense\nINTEREST_INCOME: interest_income\nLATE_INTEREST_INCOME: late_interest_income\nFEE_INCOME: fee_income\nVAT_UNCOLLECTED: vat_uncollected\nVAT_PAYABLE: vat_payable\nWRITE_OFF_EXPENSE: write_off_expense\nPROVIDER_FEES_EXPENSE: provider_fees_expense\nVAT_CREDITABLE: vat_creditable', enum_type=LedgerAccountType, max_length=32),
        ),
        ops.CreateModel(
            name='GatewaySettlement',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='gateway_settlements', on_delete=OnDelete.CASCADE)),
                ('provider', fields.CharField(max_length=16)),
                ('provider_id', fields.CharField(max_length=80)),
                ('status', fields.CharField(max_length=16)),
                ('net_centavos', fields.BigIntField()),
                ('gross_centavos', fields.BigIntField()),
                ('fee_centavos', fields.BigIntField()),
                ('fee_vat_centavos', fields.BigIntField()),
                ('arrival_date', fields.DateField(null=True)),
                ('payment_references', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('line', fields.ForeignKeyField('models.StatementLine', source_field='line_id', null=True, db_constraint=True, to_field='id', related_name='settlements', on_delete=OnDelete.RESTRICT)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'gateway_settlements', 'app': 'models', 'unique_together': (('institution', 'provider', 'provider_id'),), 'pk_attr': 'id', 'table_description': "A gateway's payout to the bank: which payments it carried, what the gateway kept."},
            bases=['Model'],
        ),
        ops.RunPython(forbid_deletes, allow_deletes),
    ]
