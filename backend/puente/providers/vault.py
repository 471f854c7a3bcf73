"""Saved cards at the provider: one protocol, one implementation, one route table each.

A saved card is a provider customer plus a card attached to it; Puente keeps only their
ids, the brand, the last four digits and the expiry (never a number or a CVV). Every
gateway that keeps cards answers to :class:`CardVault`:

    vault = card_vault(connector)              # None: this provider keeps no cards
    customer = await vault.open_customer(CustomerInfo(...), idempotency_key="user-7")
    card = await vault.keep_card(customer.provider_id, "tok_visa", idempotency_key="pm-3")
    await vault.forget_card(customer.provider_id, card.provider_id)

Creating the customer and attaching the token are the connectors' own calls
(``create_customer``/``save_payment_method``). What differs between providers beyond those
is data, declared once per provider in ``<provider>_vault.py`` as :class:`VaultRoutes` and
named by its ``ProviderSpec.card_vault``: the request that removes a card at the provider.
"""

from __future__ import annotations

import contextlib
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from puente.providers.errors import NotFound
from puente.providers.values import CustomerInfo, ProviderCustomer, SavedPaymentMethod

if TYPE_CHECKING:
    from puente.providers.base import PaymentGateway

__all__ = ["CardVault", "GatewayVault", "VaultRoutes", "card_vault"]


@runtime_checkable
class CardVault(Protocol):
    """Customers and their saved cards at one provider."""

    async def open_customer(
        self, customer: CustomerInfo, *, idempotency_key: str
    ) -> ProviderCustomer:
        """Create the payer at the provider."""
        ...

    async def keep_card(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> SavedPaymentMethod:
        """Attach a single-use card token to the customer; brand, last 4 and expiry back."""
        ...

    async def forget_card(self, customer_id: str, card_id: str) -> None:
        """Remove the card at the provider (detach or delete); a card already gone is done."""
        ...


@dataclass(frozen=True, slots=True)
class VaultRoutes:
    """How one provider removes a saved card: method and path template.

    The template may name ``{customer}``, ``{card}`` and the credentials listed in
    ``path_credentials`` (public identifiers such as Openpay's merchant id, never a secret).
    """

    forget_method: str
    forget_path: str
    path_credentials: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        names = {name for _, name, _, _ in string.Formatter().parse(self.forget_path) if name}
        unknown = names - {"customer", "card", *self.path_credentials}
        if unknown:
            raise ValueError(f"vault path names unknown fields: {sorted(unknown)}")

    def forget(self, customer_id: str, card_id: str, credentials: dict[str, str]) -> str:
        """The path removing ``card_id`` of ``customer_id``."""
        public = {name: credentials[name] for name in self.path_credentials}
        return self.forget_path.format(customer=customer_id, card=card_id, **public)


class GatewayVault:
    """The :class:`CardVault` of any gateway connector, driven by its ``VaultRoutes``."""

    def __init__(self, connector: PaymentGateway, routes: VaultRoutes) -> None:
        self.connector = connector
        self.routes = routes

    async def open_customer(
        self, customer: CustomerInfo, *, idempotency_key: str
    ) -> ProviderCustomer:
        return await self.connector.create_customer(customer, idempotency_key=idempotency_key)

    async def keep_card(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> SavedPaymentMethod:
        return await self.connector.save_payment_method(
            customer_id, token, idempotency_key=idempotency_key
        )

    async def forget_card(self, customer_id: str, card_id: str) -> None:
        path = self.routes.forget(customer_id, card_id, dict(self.connector.config.credentials))
        # A 2xx is the whole answer (Openpay's is 204 without a body); errors raise.
        with contextlib.suppress(NotFound):  # already gone: what was asked is done
            await self.connector.http.request(
                self.routes.forget_method,
                path,
                idempotency_key=f"puente-forget-{card_id}",
                idempotent=True,  # removing what is already gone changes nothing
            )


def card_vault(connector: PaymentGateway) -> CardVault | None:
    """The vault of ``connector``'s provider, or None when it keeps no cards."""
    spec = connector.spec
    if spec is None or spec.card_vault is None:
        return None
    return GatewayVault(connector, spec.card_vault)
