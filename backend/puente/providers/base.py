"""What a connector is: its config value, the gateway and bank interfaces, the shared plumbing.

A connector is a class that subclasses ``PaymentGateway`` or ``Bank``, carries its provider's
``ProviderSpec`` (``spec.py``: its name, credential fields, methods, webhook scheme), and turns
Puente's calls into its provider's HTTP requests through ``self.http`` (``http.py``), which
already retries, trips the circuit breaker, counts metrics and redacts credentials.

    connector = StripeConnector(ProviderConfig(credentials={"secret_key": ..., ...}))
    payment = await connector.charge(ChargeRequest(amount=Decimal("150.00"), token="tok_visa",
                                                   idempotency_key="attempt-42"))

Values and errors are re-exported here, so ``from puente.providers.base import ...`` is the
one import a payments service or a new connector needs.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from types import MappingProxyType
from typing import Any, ClassVar, Self

import httpx

from puente import __version__
from puente.identifiers import ClabeInfo, KycError, validate_clabe
from puente.providers.answers import read_json, read_object
from puente.providers.circuit import CircuitBreakers, CircuitPolicy
from puente.providers.errors import *  # noqa: F403  (re-exported on purpose)
from puente.providers.errors import (
    InvalidRequest,
    NotSupported,
    ProviderConfigError,
    ProviderError,
)
from puente.providers.errors import __all__ as _errors_all
from puente.providers.http import ProviderHTTP, Redactor, RetryPolicy, TimeoutPolicy
from puente.providers.metrics import ProviderMetrics
from puente.providers.spec import ConnectorKind, ProviderSpec
from puente.providers.values import *  # noqa: F403  (re-exported on purpose)
from puente.providers.values import (
    AccountHolder,
    BankBalance,
    BankMovement,
    ChargeRequest,
    CustomerInfo,
    EventKind,
    NormalisedEvent,
    OrderRequest,
    PaymentMethod,
    ProviderCustomer,
    ProviderPayment,
    ProviderRefund,
    ProviderSettlement,
    ProviderTransaction,
    ReferenceRequest,
    RefundRequest,
    SavedPaymentMethod,
    SpeiTransfer,
    SpeiTransferRequest,
    WebhookDelivery,
)
from puente.providers.values import __all__ as _values_all

__all__ = [
    "Bank",
    "Connector",
    "ConnectorKind",
    "PaymentGateway",
    "ProviderConfig",
    "ProviderSpec",
    *_errors_all,
    *_values_all,
]

logger = logging.getLogger("puente.providers")


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """Everything a connector is built from; credentials never appear in its ``repr``."""

    credentials: Mapping[str, str] = field(hash=False)
    base_url: str | None = None  # None: the connector's real production/test host
    transport: httpx.AsyncBaseTransport | None = field(default=None, compare=False, hash=False)
    account: str | None = None  # a label for breaker/metrics; derived from credentials if None
    timeout: TimeoutPolicy = TimeoutPolicy()
    retry: RetryPolicy = RetryPolicy()
    circuit: CircuitPolicy = CircuitPolicy()
    webhook_tolerance: int = 300  # seconds a signed webhook stays acceptable (replay window)

    def __post_init__(self) -> None:
        # A private copy: nobody can change the credentials under a running connector.
        object.__setattr__(self, "credentials", MappingProxyType(dict(self.credentials)))

    def __repr__(self) -> str:
        masked = {name: Redactor.mask(value) for name, value in self.credentials.items()}
        return (
            f"ProviderConfig(credentials={masked}, base_url={self.base_url!r}, "
            f"account={self.account!r})"
        )

    def account_key(self) -> str:
        """A stable, non-secret name for this account: the label or a short credential hash."""
        if self.account:
            return self.account
        digest = hashlib.sha256()
        for name in sorted(self.credentials):
            digest.update(f"{name}\0{self.credentials[name]}\0".encode())
        return digest.hexdigest()[:12]


class Connector(ABC):
    """Shared construction for every connector; subclass ``PaymentGateway`` or ``Bank``."""

    # The provider's description; name and credential fields (and a gateway's methods) are
    # taken from it when a subclass sets it (catalogue.py for the built-ins).
    spec: ClassVar[ProviderSpec | None] = None
    name: ClassVar[str]
    kind: ClassVar[ConnectorKind]
    credential_fields: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str]
    idempotency_header: ClassVar[str | None] = "Idempotency-Key"
    # True for APIs whose amounts are JSON numbers: answers are then read with ``Decimal``.
    json_decimals: ClassVar[bool] = False
    # True for APIs that always answer a JSON object: ``call`` then refuses anything else.
    answers_are_objects: ClassVar[bool] = False
    # Headers every POST carries (PayPal: ``Prefer: return=representation``).
    post_headers: ClassVar[Mapping[str, str]] = MappingProxyType({})
    # ``verify(raw_body, headers, secrets, *, now, tolerance)`` for a provider that signs its
    # webhooks with the secrets ``webhook_secrets`` returns; None: ``authenticate_webhook``
    # is the connector's own.
    webhook_verifier: ClassVar[Callable[..., NormalisedEvent] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if spec is None:
            return
        cls.name = spec.name
        cls.credential_fields = spec.credential_fields
        if issubclass(cls, PaymentGateway):
            cls.methods = spec.methods
        if getattr(cls, "kind", spec.kind) is not spec.kind:
            raise TypeError(f"{cls.__name__} is a {cls.kind} but its spec says {spec.kind}")

    def __init__(
        self,
        config: ProviderConfig,
        *,
        metrics: ProviderMetrics | None = None,
        breakers: CircuitBreakers | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        random: Callable[[], float] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        missing = [f for f in self.credential_fields if not config.credentials.get(f)]
        if missing:
            raise ProviderConfigError(
                f"{self.name}: missing credential(s) {', '.join(missing)}; set "
                + ", ".join(f"PUENTE_{self.name.upper()}_{f.upper()}" for f in missing)
            )
        self.config = config
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.http = ProviderHTTP(
            provider=self.name,
            account=config.account_key(),
            base_url=self.base_url,
            error_parser=self.parse_error,
            transport=config.transport,
            headers={"User-Agent": f"puente/{__version__}", **self.default_headers()},
            auth=self.auth(),
            timeout=config.timeout,
            retry=config.retry,
            circuit=config.circuit,
            idempotency_header=self.idempotency_header,
            retry_hint=self.retry_hint,
            secrets=config.credentials.values(),
            metrics=metrics,
            breakers=breakers,
            sleep=sleep,
            random=random,
            clock=clock,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} account={self.http.account} base_url={self.base_url}>"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release the HTTP connection pool."""
        await self.http.aclose()

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        *,
        params: Mapping[str, str] | list[tuple[str, str]] | None = None,
        form: list[tuple[str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
        expect_object: bool | None = None,
    ) -> Any:
        """One request through ``self.http``; its JSON answer (a dict with ``expect_object``,
        which defaults to the connector's ``answers_are_objects``).

        Each connector keeps its own encoding (JSON body, bracket form, extra headers) and
        passes it here; reading the answer, and refusing one that is not JSON, is shared.
        """
        if expect_object is None:
            expect_object = self.answers_are_objects
        if method == "POST" and self.post_headers:
            headers = {**self.post_headers, **(headers or {})}
        response = await self.http.request(
            method,
            path,
            params=params,
            json=dict(json) if isinstance(json, Mapping) else json,
            form=form,
            headers=headers,
            idempotency_key=idempotency_key,
            idempotent=idempotent,
        )
        read = read_object if expect_object else read_json
        return read(response, provider=self.name, what=path, decimals=self.json_decimals)

    def credential(self, name: str) -> str:
        """One credential value, for building headers; never log what this returns."""
        return self.config.credentials[name]

    def credentials_list(self, name: str) -> list[str]:
        """A comma-separated credential as its values (secrets being rotated: old and new)."""
        return [value.strip() for value in self.credential(name).split(",") if value.strip()]

    def default_headers(self) -> dict[str, str]:
        """Headers on every request (auth headers included when they are static)."""
        return {}

    def auth(self) -> httpx.Auth | None:
        """An httpx auth flow for dynamic auth (OAuth2 tokens); ``None`` for static headers."""
        return None

    def retry_hint(self, response: httpx.Response) -> bool | None:
        """Provider-specific say on retrying an error response; ``None`` uses the status."""
        return None

    @abstractmethod
    def parse_error(self, response: httpx.Response) -> ProviderError:
        """Turn a non-2xx response into the right normalised error, keeping the provider's code."""

    async def verify_webhook(
        self,
        raw_body: bytes,
        headers: Mapping[str, str],
        *,
        now: datetime | None = None,
        client_ip: str | None = None,
    ) -> NormalisedEvent:
        """Authenticate and normalise a webhook or raise ``WebhookVerificationError``.

        The one signature every connector answers to and the webhook inbox calls: async, so
        a connector may fetch what it checks with (PayPal's certificate) without blocking
        the event loop, and given the sender's address (STP checks it against an allowlist).
        ``now`` is the clock for replay windows (``None``: the current time).
        """
        delivery = WebhookDelivery(raw_body, headers, now=now, client_ip=client_ip)
        return self._log_event(await self.authenticate_webhook(delivery))

    def webhook_secrets(self) -> Any:
        """What ``webhook_verifier`` checks signatures with: the ``webhook_secret`` values
        (comma-separated, so an operator rotates a secret without downtime)."""
        return self.credentials_list("webhook_secret")

    async def authenticate_webhook(self, delivery: WebhookDelivery) -> NormalisedEvent:
        """The provider's own check of one delivery (each connector's scheme, ``spec.webhook``)."""
        verify = type(self).webhook_verifier
        if verify is None:
            raise NotSupported(f"{self.name} sends no webhooks", provider=self.name)
        return verify(
            delivery.raw_body,
            delivery.headers,
            self.webhook_secrets(),
            now=delivery.now,
            tolerance=self.config.webhook_tolerance,
        )

    def _log_event(self, event: NormalisedEvent) -> NormalisedEvent:
        """Log (never raise on) event types this connector does not know; return the event."""
        if event.kind is EventKind.UNKNOWN:
            # Acknowledged, not fatal: providers add event types without asking us.
            logger.info(
                "%s webhook %s of unknown type %r ignored", self.name, event.event_id, event.type
            )
        return event


class PaymentGateway(Connector):
    """A payment gateway: cards, SPEI and cash references, refunds, reconciliation, webhooks."""

    kind = ConnectorKind.GATEWAY
    methods: ClassVar[frozenset[PaymentMethod]] = frozenset()
    page_size: int = 100  # items per list request; tests lower it to exercise paging

    @abstractmethod
    async def create_customer(
        self, customer: CustomerInfo, *, idempotency_key: str
    ) -> ProviderCustomer:
        """Create the payer at the provider (for saved methods and per-customer CLABEs)."""

    @abstractmethod
    async def save_payment_method(
        self, customer_id: str, token: str, *, idempotency_key: str
    ) -> SavedPaymentMethod:
        """Attach a card token from the provider's JS to a customer for later charges."""

    @abstractmethod
    async def charge(self, request: ChargeRequest) -> ProviderPayment:
        """Charge a card token or saved method; declines raise ``PaymentDeclined`` subclasses
        whose ``.payment`` holds the failed ``ProviderPayment`` when the provider made one."""

    async def create_spei_reference(self, request: ReferenceRequest) -> ProviderPayment:
        """A CLABE + reference the payer transfers to; status ``requires_action``."""
        raise NotSupported(f"{self.name} has no SPEI references", provider=self.name)

    async def create_cash_reference(self, request: ReferenceRequest) -> ProviderPayment:
        """An OXXO/cash voucher the payer pays at a store; status ``requires_action``."""
        raise NotSupported(f"{self.name} has no cash references", provider=self.name)

    async def create_order(
        self,
        amount: Decimal,
        *,
        idempotency_key: str,
        description: str = "",
        metadata: Mapping[str, str] | None = None,
        return_url: str | None = None,
        cancel_url: str | None = None,
    ) -> ProviderPayment:
        """A payment the payer approves on the provider's page (PayPal): the approval link is
        ``next_action.redirect_url``; ``charge`` with the order id as token captures it."""
        order = OrderRequest(
            amount, idempotency_key, description, metadata or {}, return_url, cancel_url
        )
        return await self.open_order(order)

    async def open_order(self, request: OrderRequest) -> ProviderPayment:
        """The provider's order call (``create_order`` builds the request)."""
        raise NotSupported(f"{self.name} has no orders to approve", provider=self.name)

    @abstractmethod
    async def get_payment(self, provider_id: str) -> ProviderPayment:
        """The payment as the provider sees it now (the truth after out-of-order webhooks)."""

    async def refund(
        self,
        provider_id: str,
        amount: Decimal | None = None,
        *,
        idempotency_key: str,
        reason: str | None = None,
    ) -> ProviderRefund:
        """Refund all (``amount=None``) or part of a succeeded payment."""
        return await self.send_refund(RefundRequest(provider_id, amount, idempotency_key, reason))

    @abstractmethod
    async def send_refund(self, request: RefundRequest) -> ProviderRefund:
        """The provider's refund call (``refund`` builds and checks the request)."""

    @abstractmethod
    async def list_transactions(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[ProviderTransaction]:
        """Balance lines created in [since, until], all pages, oldest first."""

    @abstractmethod
    async def list_settlements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[ProviderSettlement]:
        """Payouts to the institution's bank created in [since, until], oldest first."""


class Bank(Connector):
    """A bank or SPEI participant (e.g. STP): balance, movements, transfers out, CLABE checks."""

    kind = ConnectorKind.BANK

    def beneficiary_clabe(self, clabe: str, provider_code: str) -> ClabeInfo:
        """The CLABE a transfer goes to, checked here (length, bank, check digit) so a typo
        never reaches the bank; ``InvalidRequest`` with the bank's own code for it if not."""
        try:
            return validate_clabe(clabe)
        except KycError as exc:
            raise InvalidRequest(
                exc.message_es, provider=self.name, provider_code=provider_code
            ) from None

    @abstractmethod
    async def get_balance(self) -> BankBalance:
        """Available balance of the institution's account."""

    @abstractmethod
    async def list_movements(
        self, since: datetime, *, until: datetime | None = None
    ) -> list[BankMovement]:
        """Credits and debits in [since, until], oldest first."""

    @abstractmethod
    async def send_spei(self, request: SpeiTransferRequest) -> SpeiTransfer:
        """Send a SPEI transfer (disbursement); safe to repeat with the same idempotency key."""

    async def validate_account_holder(
        self, clabe: str, *, name: str | None = None, rfc: str | None = None
    ) -> AccountHolder:
        """Check a CLABE exists and, where the bank can, who holds it; a malformed CLABE
        (length, bank, check digit) is invalid without asking the bank."""
        try:
            account = validate_clabe(clabe)
        except KycError:
            return AccountHolder(clabe=clabe, valid=False)
        return await self.account_holder(account, name=name, rfc=rfc)

    @abstractmethod
    async def account_holder(
        self, account: ClabeInfo, *, name: str | None, rfc: str | None
    ) -> AccountHolder:
        """What the bank says of a well-formed CLABE (``validate_account_holder`` checked it)."""
