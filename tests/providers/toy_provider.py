"""A toy provider added the documented way (docs/providers.md "Adding a provider"): this
module is its one connector module, ``TOY`` its one spec (carried by the connector), and
the tests declare its one entry point (``puente.providers``: ``toy = <this module>:ToyConnector``).
"""

from __future__ import annotations

from decimal import Decimal

from puente.providers.base import PaymentGateway
from puente.providers.spec import ConnectorKind, HostedCardForm, ProviderSpec, WebhookScheme
from puente.providers.values import PaymentMethod

__all__ = ["TOY", "TOY_ENTRY_POINT", "ToyConnector"]

TOY_ENTRY_POINT = f"{__name__}:ToyConnector"

TOY = ProviderSpec(
    name="toy",
    label="Juguete",
    connector=TOY_ENTRY_POINT,
    kind=ConnectorKind.GATEWAY,
    credential_fields=("api_key",),
    methods=frozenset({PaymentMethod.CARD, PaymentMethod.CASH}),
    cash_limit=Decimal("5000.00"),
    webhook=WebhookScheme("HMAC over the body", body_authenticated=True),
    card_form=HostedCardForm(path="/_checkout/card"),
)


class ToyConnector(PaymentGateway):
    """Only what the doors look at; the contract suite would drive the rest."""

    spec = TOY
    default_base_url = "https://api.toy.invalid"
