from tortoise import migrations
import functools
from json import dumps, loads
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    """CFDI paid in installments (PPD): an ingreso per installment billed (no payment yet, its
    loan and installment instead) and a Complemento de Pagos 2.0 (kind ``pago``) per payment,
    with the documents it paid."""

    dependencies = [("models", "0016_cfdi")]

    initial = False

    operations = [
        ops.AlterField(
            model_name='Invoice',
            name='payment',
            field=fields.ForeignKeyField('models.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='invoices', null=True, on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Invoice',
            name='loan',
            field=fields.ForeignKeyField('models.Loan', source_field='loan_id', db_constraint=True, to_field='id', related_name='invoices', null=True, on_delete=OnDelete.RESTRICT),
        ),
        ops.AddField(
            model_name='Invoice',
            name='installment_number',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Invoice',
            name='metodo_pago',
            field=fields.CharField(default='PUE', max_length=3),
        ),
        ops.AddField(
            model_name='Invoice',
            name='documents',
            field=fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads),
        ),
    ]
