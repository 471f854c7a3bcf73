from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from puente.notifications.models import Channel, DeliveryStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index


class Migration(migrations.Migration):
    """Notifications (outbox + delivery record), channel preferences, password-reset links."""

    dependencies = [('models', '0013_collect')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Notification',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notifications', on_delete=OnDelete.CASCADE)),
                ('loan_id', fields.IntField(null=True, db_index=True)),
                ('payment_id', fields.IntField(null=True, db_index=True)),
                ('kind', fields.CharField(max_length=32)),
                ('channel', fields.CharEnumField(description='EMAIL: email\nSMS: sms\nWHATSAPP: whatsapp', enum_type=Channel, max_length=10)),
                ('dedupe_key', fields.CharField(max_length=160)),
                ('recipient', fields.CharField(max_length=254)),
                ('subject', fields.CharField(default='', max_length=200)),
                ('body_text', fields.TextField(unique=False)),
                ('body_html', fields.TextField(null=True, unique=False)),
                ('attachments', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('status', fields.CharEnumField(default=DeliveryStatus.PENDING, description='PENDING: pending\nSENDING: sending\nSENT: sent\nDELIVERED: delivered\nUNDELIVERED: undelivered\nFAILED: failed\nSKIPPED: skipped', enum_type=DeliveryStatus, max_length=12)),
                ('attempts', fields.SmallIntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('provider_id', fields.CharField(null=True, db_index=True, max_length=200)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'notifications', 'app': 'models', 'unique_together': (('dedupe_key', 'channel'),), 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'One notice to one person on one channel: the outbox row and its delivery record.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationPreference',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.OneToOneField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='notification_preference', on_delete=OnDelete.CASCADE)),
                ('email', fields.BooleanField(default=True)),
                ('sms', fields.BooleanField(default=False)),
                ('whatsapp', fields.BooleanField(default=False)),
                ('opted_out', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'notification_preferences', 'app': 'models', 'pk_attr': 'id', 'table_description': "A person's channels. Without a row: email only (they gave it to sign up)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PasswordResetToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='password_resets', on_delete=OnDelete.CASCADE)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'password_reset_tokens', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A password-reset link: only its SHA-256 is stored, used once, then dead.'},
            bases=['Model'],
        ),
    ]
