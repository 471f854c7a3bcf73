"""The webhook inbox: every verified provider event, stored before we answer 2xx."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from puente.enums import ProviderEventStatus

if TYPE_CHECKING:
    from puente.institutions.models import Institution

__all__ = ["ProviderEvent"]


class ProviderEvent(Model):
    """One delivery from a provider, deduplicated on the provider's own event id."""

    id = fields.BigIntField(primary_key=True)
    # Foreign key columns as Tortoise sets them, declared for type checkers.
    institution_id: int | None
    provider = fields.CharField(max_length=16)  # a registered provider's name
    event_id = fields.CharField(max_length=200)
    event_type = fields.CharField(max_length=100)
    institution: fields.ForeignKeyNullableRelation[Institution] = fields.ForeignKeyField(
        "models.Institution", related_name="provider_events", null=True
    )
    kind = fields.CharField(max_length=40, default="unknown")  # EventKind value
    provider_payment_id = fields.CharField(max_length=200, null=True, db_index=True)
    # Puente's own payment id as the provider echoed it in the payment's metadata: finds a
    # payment whose creation answer was lost (it has no provider reference yet).
    puente_payment_id = fields.CharField(max_length=32, null=True)
    amount_centavos = fields.BigIntField(null=True)
    occurred_at = fields.DatetimeField(null=True)
    # Encrypted (``webhooks.storage``): provider bodies carry payers' CLABEs and names.
    raw_body = fields.TextField()
    headers: Any = fields.JSONField(default=dict)  # without credentials (``webhooks.storage``)
    # The provider's scheme signed this body (see ``NormalisedEvent.body_authenticated``);
    # when False, processing confirms status and amount with the provider's API first.
    body_authenticated = fields.BooleanField(default=False)
    status = fields.CharEnumField(
        ProviderEventStatus, max_length=12, default=ProviderEventStatus.RECEIVED
    )
    attempts = fields.IntField(default=0)
    last_error = fields.TextField(null=True)
    next_attempt_at = fields.DatetimeField(null=True, db_index=True)
    received_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)
    request_id = fields.CharField(max_length=64, null=True)  # the request that delivered it

    class Meta:
        table = "provider_events"
        unique_together = (("provider", "event_id"),)
