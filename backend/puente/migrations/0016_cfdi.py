from tortoise import migrations
import functools
from json import dumps, loads
from tortoise.migrations import operations as ops
from puente.cep.models import CepStatus
from puente.invoicing.models import InvoiceKind, InvoiceStatus
from tortoise.fields.base import OnDelete
from tortoise import fields


class Migration(migrations.Migration):
    """CFDI invoices and the institution's CSD; CEP checks of received SPEI; AML links
    between customers (phone/address blind indexes) and the reason a suspension was lifted."""

    dependencies = [("models", "0015_recon2")]

    initial = False

    operations = [
        ops.CreateModel(
            name='InstitutionCsd',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.OneToOneField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='csd', on_delete=OnDelete.RESTRICT)),
                ('rfc', fields.CharField(max_length=13)),
                ('certificate_number', fields.CharField(max_length=20)),
                ('certificate_enc', fields.TextField()),
                ('key_enc', fields.TextField()),
                ('password_enc', fields.TextField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'institution_csds', 'app': 'models', 'pk_attr': 'id', 'table_description': "The institution's Certificado de Sello Digital, encrypted."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Invoice',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('payment', fields.ForeignKeyField('models.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='invoices', on_delete=OnDelete.RESTRICT)),
                ('key', fields.CharField(max_length=80, unique=True)),
                ('kind', fields.CharEnumField(description='INGRESO: ingreso\nEGRESO: egreso', enum_type=InvoiceKind, max_length=8)),
                ('status', fields.CharEnumField(default=InvoiceStatus.PENDING, description='PENDING: pending\nSTAMPED: stamped\nFAILED: failed\nCANCELED: canceled', enum_type=InvoiceStatus, max_length=10)),
                ('folio', fields.CharField(max_length=40)),
                ('uuid', fields.CharField(max_length=36, null=True, unique=True)),
                ('subtotal_centavos', fields.BigIntField(default=0)),
                ('vat_centavos', fields.BigIntField(default=0)),
                ('total_centavos', fields.BigIntField(default=0)),
                ('xml_enc', fields.TextField(null=True)),
                ('related', fields.ForeignKeyField('models.Invoice', source_field='related_id', null=True, db_constraint=True, to_field='id', related_name='credit_notes', on_delete=OnDelete.RESTRICT)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=500)),
                ('cancel_reason', fields.CharField(null=True, max_length=2)),
                ('substitute_uuid', fields.CharField(null=True, max_length=36)),
                ('stamped_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('canceled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'invoices', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One CFDI 4.0 of a payment: an ingreso for what it collected, or an egreso after a refund.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='CepCheck',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('institution', fields.ForeignKeyField('models.Institution', source_field='institution_id', db_constraint=True, to_field='id', related_name='cep_checks', on_delete=OnDelete.RESTRICT)),
                ('payment', fields.OneToOneField('models.Payment', source_field='payment_id', db_constraint=True, to_field='id', related_name='cep_check', on_delete=OnDelete.RESTRICT)),
                ('status', fields.CharEnumField(default=CepStatus.PENDING, description='PENDING: PENDIENTE\nVALIDATED: VALIDADO\nNOT_FOUND: NO_ENCONTRADO\nNO_DATA: SIN_DATOS', enum_type=CepStatus, max_length=14)),
                ('query', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('xml_enc', fields.TextField(null=True)),
                ('ordenante_name', fields.CharField(default='', max_length=120)),
                ('ordenante_rfc', fields.CharField(default='', max_length=18)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(default='', max_length=300)),
                ('checked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'cep_checks', 'app': 'models', 'pk_attr': 'id', 'table_description': "One received SPEI and what Banxico's CEP service says about it."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='LoanApplication',
            name='phone_index',
            field=fields.CharField(default='', max_length=64, db_index=True),
        ),
        ops.AddField(
            model_name='LoanApplication',
            name='address_index',
            field=fields.CharField(default='', max_length=64, db_index=True),
        ),
        ops.AddField(
            model_name='CustomerSuspension',
            name='lift_reason',
            field=fields.CharField(default='', max_length=500),
        ),
    ]
