"""What Puente needs to know about a provider, as data: one ``ProviderSpec`` per provider.

Every list that used to name providers one by one is derived from the specs: the registry's
built-ins, the credential environment variables (``config``), the portal's names and payment
options, the cash ceilings checkout enforces, which providers the webhook door accepts and
what it answers, and the two behaviours the core used to test provider names for (an order
captured once the payer approves it, a SPEI sent to the loan's own CLABE). The connector
carries the rest (how to talk to the provider); the spec says what the provider *is*.

This module is data only (no HTTP, no connectors), so ``config`` and the doors may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from puente.providers.spei_tracking import SpeiTrackingPaths
from puente.providers.tables import ProviderTables
from puente.providers.values import PaymentMethod
from puente.providers.vault import VaultRoutes

__all__ = [
    "ConnectorKind",
    "HostedCardForm",
    "ProviderSpec",
    "TransferAnswers",
    "WebhookScheme",
]


class ConnectorKind(StrEnum):
    """The two families of connector."""

    GATEWAY = "gateway"
    BANK = "bank"


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class TransferAnswers:
    """How a bank wants an incoming SPEI (abono) answered when it asks us to keep it or not.

    STP holds each abono until the receiver answers ``confirmar`` (keep) or ``devolver``
    (send back, with a reason code); ``account_field`` is the credential naming the
    institution's account whose CLABEs the loans' own CLABEs are derived from.
    """

    keep: Mapping[str, Any]
    send_back: Mapping[str, Any]
    account_field: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "keep", _frozen(self.keep))
        object.__setattr__(self, "send_back", _frozen(self.send_back))


@dataclass(frozen=True, slots=True)
class WebhookScheme:
    """How a provider's webhooks are authenticated, and what we answer once one is stored."""

    verification: str  # the scheme in words (docs/architecture.md "Verification levels")
    body_authenticated: bool  # False: status and amount are confirmed with the provider's API
    received: Mapping[str, Any] = field(default_factory=lambda: {"received": True})
    transfers: TransferAnswers | None = None  # incoming SPEI the provider asks us about

    def __post_init__(self) -> None:
        object.__setattr__(self, "received", _frozen(self.received))

    def acknowledgement(self, keep_transfer: bool | None = None) -> dict[str, Any]:
        """The 2xx body for a stored event; ``keep_transfer`` answers an abono's question."""
        if keep_transfer is None or self.transfers is None:
            return dict(self.received)
        return dict(self.transfers.keep if keep_transfer else self.transfers.send_back)


@dataclass(frozen=True, slots=True)
class HostedCardForm:
    """How the payer's card becomes a single-use token at the gateway, so card numbers
    never reach Puente (PCI SAQ A). Read by ``payments.card_step`` (the one place that
    decides which of the three ways below an institution's payers get):

    1. ``url_credential`` (``card_form_url``): a hosted page the institution names; it is
       sent ``return_url`` and ``cancel_url`` and POSTs ``token`` back to the first.
    2. The sandbox: the simulator's equivalent hosted page, ``/sandbox/<provider>`` +
       ``path``.
    3. ``script``: the gateway's own tokenisation script (Stripe.js, Conekta.js, Openpay.js,
       MercadoPago.js), loaded from ``script_origin`` on a portal page with the
       institution's PUBLIC key (credential ``key_credential``, never the secret key) plus
       ``script_credentials`` (other public values the script needs, e.g. Openpay's
       merchant id). Only that page's CSP allows that origin.
    """

    path: str
    script: str = ""  # https URL of the gateway's tokenisation library
    key_credential: str = "public_key"
    script_credentials: tuple[str, ...] = ()
    url_credential: str = "card_form_url"

    def __post_init__(self) -> None:
        if self.script and not self.script.startswith("https://"):
            raise ValueError(f"card form script must be https: {self.script}")

    @property
    def script_origin(self) -> str:
        """``https://host`` of ``script``: the one origin the card page's CSP adds."""
        if not self.script:
            return ""
        scheme, _, rest = self.script.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}"

    @property
    def credentials(self) -> tuple[str, ...]:
        """The optional credentials this card form may read (all public or a URL)."""
        return (self.url_credential, self.key_credential, *self.script_credentials)


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One provider, described once (see the module docstring for who reads what)."""

    name: str  # the URL and database name: /webhooks/<name>, payments.provider
    label: str  # how the portal names it (es-MX)
    connector: str  # "module:Class" of its connector
    kind: ConnectorKind
    credential_fields: tuple[str, ...]  # required; PUENTE_<NAME>_<FIELD> in the demo
    optional_credentials: tuple[str, ...] = ()
    methods: frozenset[PaymentMethod] = frozenset()
    # Store payments have a ceiling per operation (mexico.md §6); None: no cash.
    cash_limit: Decimal | None = None
    webhook: WebhookScheme | None = None
    card_form: HostedCardForm | None = None
    # The payer approves an order on the provider's page; we capture it when they come
    # back or when the webhook of this type arrives, whichever is first (PayPal).
    approval_event: str | None = None
    # Payers transfer by SPEI to the loan's own CLABE under the institution's account
    # (STP); the abono callback completes the payment. Needs ``webhook.transfers``.
    pays_to_loan_clabe: bool = False
    # The GraphQL ``Provider`` value of a provider payers pay through (``methods``);
    # "" derives it from ``name`` (``toy`` -> ``TOY``). See ``graphql_value``.
    graphql_name: str = ""
    # Its names for methods, statuses, declines and events, and where its payouts and
    # balance lines keep their fields (``tables.py``; a data module per provider).
    tables: ProviderTables | None = None
    # Saved cards (``vault.py``): how this provider removes one; None keeps no cards.
    card_vault: VaultRoutes | None = None
    # Where its SPEI payments say the clave de rastreo and banks (CEP); ``spei_tracking.py``.
    spei_tracking: SpeiTrackingPaths | None = None

    def __post_init__(self) -> None:
        if self.tables is not None and self.tables.provider != self.name:
            raise ValueError(f"{self.name}: its tables are {self.tables.provider}'s")
        if self.pays_to_loan_clabe and (self.webhook is None or self.webhook.transfers is None):
            raise ValueError(f"{self.name}: pays_to_loan_clabe needs webhook.transfers")
        if self.cash_limit is not None and PaymentMethod.CASH not in self.methods:
            raise ValueError(f"{self.name}: a cash limit without the cash method")

    @property
    def env_fields(self) -> tuple[str, ...]:
        """Every credential the demo institution may take from PUENTE_<NAME>_<FIELD>."""
        return (*self.credential_fields, *self.optional_credentials)

    @property
    def graphql_value(self) -> str | None:
        """This provider's GraphQL ``Provider`` value; None when payers cannot pay through
        it (no ``methods``: a bank feed such as the open-banking connector)."""
        if not self.methods:
            return None
        return self.graphql_name or self.name.upper()

    @property
    def offers_cards(self) -> bool:
        """Cards are offered only with a page that tokenises them (never a number in Puente)."""
        return PaymentMethod.CARD in self.methods and self.card_form is not None
