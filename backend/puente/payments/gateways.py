"""Finding the connector for an institution and provider, with the right credentials.

Credentials come from the institution's ``ProviderAccount`` (encrypted at rest). For an
institution flagged ``settings["env_credentials"]`` (the demo institution) the contract's
``PUENTE_<PROVIDER>_<FIELD>`` values win over stored ones. In sandbox mode every connector
points at the built-in simulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, TypeVar

import httpx
from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connection

from puente.institutions.models import Institution, ProviderAccount
from puente.payments.card_step import CardStep, card_step
from puente.providers.base import Bank, Connector, PaymentGateway, ProviderConfig
from puente.providers.registry import get_connector_class, provider_spec
from puente.runtime import Runtime

__all__ = ["CREDENTIALS_CONTEXT", "GatewayDirectory", "NoProviderAccount", "store_credentials"]

CREDENTIALS_CONTEXT = "provider_accounts.credentials"
CANDIDATES_TTL = 5.0  # seconds

T = TypeVar("T")


class NoProviderAccount(LookupError):
    """The institution has no active account with that provider."""


async def store_credentials(
    runtime: Runtime, institution_id: int, provider: str, credentials: Mapping[str, str]
) -> ProviderAccount:
    """Save (or replace) an institution's credentials for a provider, encrypted; a name no
    registered provider has raises ``UnknownProvider`` (the column is plain text)."""
    provider_spec(provider)
    token = runtime.cipher.encrypt(json.dumps(dict(credentials)), context=CREDENTIALS_CONTEXT)
    account = await ProviderAccount.filter(institution_id=institution_id, provider=provider).first()
    if account is None:
        return await ProviderAccount.create(
            institution_id=institution_id, provider=provider, credentials_enc=token
        )
    account.credentials_enc = token
    await account.save(update_fields=["credentials_enc"])
    return account


class GatewayDirectory:
    """Builds connectors per (institution, provider); one instance per process."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        transport_for: Callable[[str], httpx.AsyncBaseTransport | None] | None = None,
        base_url_for: Callable[[str], str | None] | None = None,
    ) -> None:
        self.runtime = runtime
        self._transport_for = transport_for or (lambda provider: None)
        self._base_url_for = base_url_for or self._default_base_url
        # Connectors are long-lived (one HTTP connection pool each); a credential change makes
        # a new one because the cache key includes a digest of the credentials.
        self._connectors: dict[tuple[int, str, str], Connector] = {}
        self._candidates: dict[str, tuple[float, list[Institution]]] = {}
        # Credentials with their digest (the connector cache key), computed once per load.
        self._credentials: dict[tuple[int, str], tuple[float, dict[str, str], str]] = {}
        # Loads under way: concurrent callers share one instead of each querying (a burst
        # of webhooks when the cache lapses would otherwise run one query per delivery).
        self._loading: dict[Hashable, asyncio.Future[Any]] = {}

    async def _shared_load(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """``load()``, or the result of the same load another caller already started."""
        if isinstance(get_connection("default"), TransactionalDBClient):
            # Inside a transaction the load reads through it: never shared with strangers.
            return await load()
        loading = self._loading.get(key)
        if loading is None:
            loading = self._loading[key] = asyncio.ensure_future(load())
            loading.add_done_callback(lambda done: self._finished_loading(key, done))
        # Shielded: one caller going away does not cancel the load the others wait for.
        result: T = await asyncio.shield(loading)
        return result

    def _finished_loading(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        if self._loading.get(key) is done:
            del self._loading[key]
        if not done.cancelled():
            done.exception()  # retrieved: a failed load is the callers' error, not a warning

    def _default_base_url(self, provider: str) -> str | None:
        return self.sandbox_url(provider)

    def sandbox_url(self, provider: str) -> str | None:
        """The simulator's URL as a payer's browser sees it (sandbox mode), else None."""
        if self.runtime.settings.sandbox:
            return f"{self.runtime.settings.base_url}/sandbox/{provider}"
        return None

    async def card_step(self, institution: Institution, provider: str) -> CardStep | None:
        """Where this institution's payers type a card for ``provider`` (``card_step.py``)."""
        try:
            credentials = await self.credentials(institution, provider)
            spec = provider_spec(provider)
        except (NoProviderAccount, LookupError):
            return None
        return card_step(spec, credentials, self.sandbox_url(provider))

    async def credentials(self, institution: Institution, provider: str) -> dict[str, str]:
        """Decrypted credentials, cached for a few seconds (every webhook needs them)."""
        found, _ = await self._credentials_and_digest(institution, provider)
        return dict(found)

    async def _credentials_and_digest(
        self, institution: Institution, provider: str
    ) -> tuple[dict[str, str], str]:
        key = (institution.id, provider)
        cached = self._credentials.get(key)
        if cached is not None and time.monotonic() - cached[0] < CANDIDATES_TTL:
            return cached[1], cached[2]
        found = await self._shared_load(
            ("credentials", *key), lambda: self._load_credentials(institution, provider)
        )
        digest = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()
        self._credentials[key] = (time.monotonic(), found, digest)
        return found, digest

    def forget(self, institution_id: int | None = None) -> None:
        """Drop cached credentials (after they change)."""
        self._candidates.clear()
        self._loading.clear()  # a load under way may have read the old values
        self._credentials = {
            k: v for k, v in self._credentials.items() if institution_id not in (None, k[0])
        }

    async def _load_credentials(self, institution: Institution, provider: str) -> dict[str, str]:
        stored: dict[str, str] = {}
        account = await ProviderAccount.filter(
            institution_id=institution.id, provider=provider, is_active=True
        ).first()
        if account is not None:
            stored = json.loads(
                self.runtime.cipher.decrypt(account.credentials_enc, context=CREDENTIALS_CONTEXT)
            )
        if (institution.settings or {}).get("env_credentials"):
            stored.update(self.runtime.settings.provider_env.get(provider, {}))
        if not stored:
            raise NoProviderAccount(f"{institution.slug} has no {provider} account")
        return stored

    async def candidates(self, provider: str) -> list[Institution]:
        """Institutions that may receive ``provider``'s webhooks (stored or env credentials).

        Cached for a few seconds: every webhook needs it and it changes rarely.
        """
        cached = self._candidates.get(provider)
        if cached is not None and time.monotonic() - cached[0] < CANDIDATES_TTL:
            return cached[1]
        found = await self._shared_load(
            ("candidates", provider), lambda: self._find_candidates(provider)
        )
        self._candidates[provider] = (time.monotonic(), found)
        return found

    async def _find_candidates(self, provider: str) -> list[Institution]:
        ids = await ProviderAccount.filter(provider=provider, is_active=True).values_list(
            "institution_id", flat=True
        )
        institutions = {i.id: i for i in await Institution.filter(id__in=list(ids))}
        if self.runtime.settings.provider_env.get(provider):
            for inst in await Institution.all():
                if (inst.settings or {}).get("env_credentials"):
                    institutions[inst.id] = inst
        return sorted(institutions.values(), key=lambda i: i.id)

    async def connector(self, institution: Institution, provider: str) -> Connector:
        """The shared connector for this institution and provider (do not close it)."""
        credentials, digest = await self._credentials_and_digest(institution, provider)
        key = (institution.id, provider, digest)
        connector = self._connectors.get(key)
        if connector is None:
            cls = get_connector_class(provider)
            config = ProviderConfig(
                credentials=dict(credentials),
                base_url=self._base_url_for(provider),
                transport=self._transport_for(provider),
                account=f"{institution.slug}:{provider}",
            )
            connector = self._connectors[key] = cls(config)
        return connector

    async def gateway(self, institution: Institution, provider: str) -> PaymentGateway:
        """The institution's connector for ``provider`` when it is a payment gateway."""
        connector = await self.connector(institution, provider)
        if not isinstance(connector, PaymentGateway):
            raise NoProviderAccount(f"{provider} is not a payment gateway")
        return connector

    async def bank(self, institution: Institution, provider: str) -> Bank:
        """The institution's connector for ``provider`` when it is a bank (SPEI payouts)."""
        connector = await self.connector(institution, provider)
        if not isinstance(connector, Bank):
            raise NoProviderAccount(f"{provider} is not a bank")
        return connector

    async def aclose(self) -> None:
        """Close every cached connector (process shutdown)."""
        connectors, self._connectors = list(self._connectors.values()), {}
        for connector in connectors:
            await connector.aclose()
