from tortoise import migrations
from tortoise.migrations import operations as ops
from puente.reconciliation.enums import RemittanceStatus
from tortoise.fields.base import OnDelete
from tortoise import fields

# Remittances keep their history like the rest of reconciliation (0012): never deleted.
TABLES = ("payroll_remittances", "payroll_remittance_rows")


async def forbid_deletes(apps, schema_editor):
    postgres = schema_editor.client.capabilities.dialect == "postgres"
    for table in TABLES:
        if postgres:  # puente_reconciliation_no_delete() comes from 0012
            statement = f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION puente_reconciliation_no_delete();"""
        else:
            statement = f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'reconciliation keeps its history: {table} cannot be deleted'); END;"""
        await schema_editor.client.execute_script(statement)


async def allow_deletes(apps, schema_editor):
    postgres = schema_editor.client.capabilities.dialect == "postgres"
    for table in TABLES:
        on = f" ON {table}" if postgres else ""
        await schema_editor.client.execute_script(f"DROP TRIGGER IF EXISTS {table}_no_delete{on};")


class Migration(migrations.Migration):
    """Payroll remittances (descuento vía nómina) and the amount of a partial exception."""

    dependencies = [('models', '0014_notify')]

    initial = False

    operations = [
        ops.CreateModel(
            name='PayrollEnrolment',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='payroll_enrolments', on_delete=OnDelete.CASCADE)),
                ('employer', fields.CharField(max_length=40)),
                ('employee_id', fields.CharField(max_length=40)),
                ('loan', fields.ForeignKeyField('models.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='payroll_enrolments', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payroll_enrolments', 'app': 'models', 'unique_together': (('institution', 'employer', 'employee_id'),), 'pk_attr': 'id', 'table_description': 'A loan repaid by descuento vía nómina: the employer deducts the installment from the'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayrollRemittance',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='payroll_remittances', on_delete=OnDelete.CASCADE)),
                ('employer', fields.CharField(max_length=40)),
                ('reference', fields.CharField(default='', max_length=80)),
                ('file_name', fields.CharField(default='', max_length=200)),
                ('file_sha256', fields.CharField(max_length=64)),
                ('total_centavos', fields.BigIntField()),
                ('row_count', fields.IntField()),
                ('line', fields.ForeignKeyField('models.StatementLine', source_field='line_id', null=True, db_constraint=True, to_field='id', related_name='remittances', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(description='APPLIED: applied\nMISMATCH: mismatch', enum_type=RemittanceStatus, max_length=10)),
                ('detail', fields.CharField(default='', max_length=300)),
                ('imported_by', fields.ForeignKeyField('models.User', source_field='imported_by_id', null=True, db_constraint=True, to_field='id', related_name='imported_remittances', on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'payroll_remittances', 'app': 'models', 'unique_together': (('institution', 'file_sha256'),), 'pk_attr': 'id', 'table_description': "An employer's remittance file: whose installments one deposit carries."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PayrollRemittanceRow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('remittance', fields.ForeignKeyField('models.PayrollRemittance', source_field='remittance_id', db_constraint=True, to_field='id', related_name='rows', on_delete=OnDelete.RESTRICT)),
                ('position', fields.IntField()),
                ('employee_id', fields.CharField(default='', max_length=40)),
                ('identity', fields.CharField(default='', max_length=24)),
                ('name', fields.CharField(default='', max_length=140)),
                ('amount_centavos', fields.BigIntField()),
                ('loan', fields.ForeignKeyField('models.Loan', source_field='loan_id', null=True, db_constraint=True, to_field='id', related_name='remittance_rows', on_delete=OnDelete.CASCADE)),
                ('payment', fields.ForeignKeyField('models.Payment', source_field='payment_id', null=True, db_constraint=True, to_field='id', related_name='remittance_rows', on_delete=OnDelete.CASCADE)),
                ('exception', fields.ForeignKeyField('models.ReconciliationException', source_field='exception_id', null=True, db_constraint=True, to_field='id', related_name='remittance_rows', on_delete=OnDelete.CASCADE)),
            ],
            options={'table': 'payroll_remittance_rows', 'app': 'models', 'pk_attr': 'id', 'table_description': "One borrower's share of a remittance and what became of it (CURP and RFC are not"},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ReconciliationException',
            name='amount_centavos',
            field=fields.BigIntField(null=True),
        ),
        ops.RunPython(forbid_deletes, allow_deletes),
    ]
