"""Which connectors exist: built-ins named in code plus the ``puente.providers`` entry points.

A new provider ships as a connector class (and, for demos and tests, a simulator). Declaring

    [project.entry-points."puente.providers"]
    acme = "acme_puente.connector:AcmeConnector"

in any installed distribution makes ``get_connector_class("acme")`` find it without touching
Puente. Built-ins are also listed in ``BUILTIN_CONNECTORS`` so they resolve before the package
metadata is refreshed (an editable install that predates the entry point). Nothing is imported
until asked for, so listing providers stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from puente.providers.base import Connector, ProviderConfig
from puente.providers.errors import ProviderConfigError

__all__ = [
    "BUILTIN_CONNECTORS",
    "ENTRY_POINT_GROUP",
    "ConnectorRegistry",
    "UnknownProvider",
    "available_providers",
    "create_connector",
    "default_registry",
    "get_connector_class",
    "register_connector",
]

logger = logging.getLogger("puente.providers")

ENTRY_POINT_GROUP = "puente.providers"

# name -> "module:Class". Adding a built-in connector is one line here (see docs/providers.md).
BUILTIN_CONNECTORS: dict[str, str] = {
    "stripe": "puente.providers.stripe:StripeConnector",
    "mercadopago": "puente.providers.mercadopago:MercadoPagoConnector",
    "paypal": "puente.providers.paypal:PayPalConnector",
    "conekta": "puente.providers.conekta:ConektaConnector",
    "openpay": "puente.providers.openpay:OpenpayConnector",
    "stp": "puente.providers.stp:StpConnector",
    "bank": "puente.providers.bank:OpenBankingConnector",
}


class UnknownProvider(ProviderConfigError, LookupError):
    """No connector is registered under that name."""


def _load(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if not attribute:
        raise ProviderConfigError(f"{target!r} is not of the form 'module:attribute'")
    return getattr(importlib.import_module(module_name), attribute)


class ConnectorRegistry:
    """Resolves provider names to connector classes, lazily."""

    def __init__(
        self,
        builtins: dict[str, str] | None = None,
        *,
        group: str = ENTRY_POINT_GROUP,
        discovered: Callable[[], Iterable[EntryPoint]] | None = None,
    ) -> None:
        self._builtins = dict(BUILTIN_CONNECTORS if builtins is None else builtins)
        self._group = group
        self._discovered = discovered or (lambda: entry_points(group=self._group))
        self._registered: dict[str, str | type[Connector]] = {}
        self._cache: dict[str, type[Connector]] = {}

    def register(self, name: str, target: str | type[Connector]) -> None:
        """Register a connector in code (tests, plugins loaded by hand); wins over the rest."""
        self._registered[name] = target
        self._cache.pop(name, None)

    def unregister(self, name: str) -> None:
        """Undo ``register`` (tests)."""
        self._registered.pop(name, None)
        self._cache.pop(name, None)

    def _entry_points(self) -> dict[str, EntryPoint]:
        try:
            return {ep.name: ep for ep in self._discovered()}
        except Exception:  # broken metadata must not take the built-ins down with it
            logger.exception("could not read %s entry points", self._group)
            return {}

    def names(self) -> list[str]:
        """Every provider name that resolves to something, sorted."""
        return sorted({*self._builtins, *self._entry_points(), *self._registered})

    def get(self, name: str) -> type[Connector]:
        """The connector class for ``name``; raises ``UnknownProvider`` if none."""
        if name in self._cache:
            return self._cache[name]
        target: Any
        if name in self._registered:
            target = self._registered[name]
        else:
            found = self._entry_points().get(name)
            if found is not None:
                target = found
                if name in self._builtins and found.value != self._builtins[name]:
                    logger.info(
                        "provider %s: entry point %s overrides the built-in", name, found.value
                    )
            elif name in self._builtins:
                target = self._builtins[name]
            else:
                raise UnknownProvider(
                    f"no connector named {name!r}; available: {', '.join(self.names()) or '-'}"
                )
        try:
            if isinstance(target, EntryPoint):
                cls = target.load()
            elif isinstance(target, str):
                cls = _load(target)
            else:
                cls = target
        except (ImportError, AttributeError) as exc:
            raise ProviderConfigError(f"connector {name!r} could not be loaded: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise ProviderConfigError(f"{name!r} does not name a Connector subclass")
        if getattr(cls, "name", None) != name:
            raise ProviderConfigError(
                f"{cls.__name__}.name is {cls.name!r}, registered as {name!r}"
            )
        self._cache[name] = cls
        return cls

    def create(self, name: str, config: ProviderConfig, **kwargs: Any) -> Connector:
        """Build a connector for ``name`` from its config."""
        return self.get(name)(config, **kwargs)


default_registry = ConnectorRegistry()


def get_connector_class(name: str) -> type[Connector]:
    """The connector class registered as ``name`` (built-in or entry point)."""
    return default_registry.get(name)


def available_providers() -> list[str]:
    """Names of every registered connector."""
    return default_registry.names()


def register_connector(name: str, target: str | type[Connector]) -> None:
    """Register a connector in code, e.g. ``register_connector("acme", "pkg.mod:Acme")``."""
    default_registry.register(name, target)


def create_connector(name: str, config: ProviderConfig, **kwargs: Any) -> Connector:
    """Build the connector for ``name``."""
    return default_registry.create(name, config, **kwargs)
