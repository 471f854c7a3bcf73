"""A toy provider added the documented way (docs/providers.md "Adding a provider"): this
module is its one connector module, ``TOY`` its one spec (carried by the connector), and
the tests declare its one entry point (``puente.providers``: ``toy = <this module>:ToyConnector``).
``TOY_BANK`` is a plug-in bank beside it (``toybank``), for payouts.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import httpx

from puente.identifiers import ClabeInfo
from puente.providers.base import Bank, PaymentGateway
from puente.providers.errors import NotSupported, ProviderError
from puente.providers.spec import ConnectorKind, HostedCardForm, ProviderSpec, WebhookScheme
from puente.providers.values import (
    AccountHolder,
    BankBalance,
    BankMovement,
    PaymentMethod,
    SpeiTransfer,
    SpeiTransferRequest,
    TransferStatus,
)

__all__ = [
    "TOY",
    "TOY_BANK",
    "TOY_BANK_ENTRY_POINT",
    "TOY_ENTRY_POINT",
    "ToyBankConnector",
    "ToyConnector",
]

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


TOY_BANK_ENTRY_POINT = f"{__name__}:ToyBankConnector"

TOY_BANK = ProviderSpec(
    name="toybank",
    label="Banco juguete",
    connector=TOY_BANK_ENTRY_POINT,
    kind=ConnectorKind.BANK,
    credential_fields=("api_key",),
)


class ToyBankConnector(Bank):
    """A plug-in bank that sends SPEI payouts: accepted at once, settled later."""

    spec = TOY_BANK
    default_base_url = "https://bank.toy.invalid"
    sent: ClassVar[list[SpeiTransferRequest]] = []

    async def send_spei(self, request: SpeiTransferRequest) -> SpeiTransfer:
        self.sent.append(request)
        return SpeiTransfer(
            provider=self.name,
            provider_id=f"toy-{request.idempotency_key}",
            status=TransferStatus.PENDING,
            amount=request.amount,
            clave_rastreo=request.idempotency_key,
        )

    def parse_error(self, response: httpx.Response) -> ProviderError:
        return ProviderError(f"toy bank answered {response.status_code}", provider=self.name)

    async def get_balance(self) -> BankBalance:
        raise NotSupported("toy bank: no balance", provider=self.name)

    async def list_movements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[BankMovement]:
        return []

    async def account_holder(
        self, account: ClabeInfo, *, name: str | None, rfc: str | None
    ) -> AccountHolder:
        return AccountHolder(clabe=account.clabe, valid=True)
