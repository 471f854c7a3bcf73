"""Which providers exist: the built-in specs plus the ``puente.providers`` entry points.

A new provider ships as a connector class carrying its ``ProviderSpec`` (``Connector.spec``)
and, for demos and tests, a simulator. Declaring

    [project.entry-points."puente.providers"]
    acme = "acme_puente.connector:AcmeConnector"

in any installed distribution makes ``get_connector_class("acme")`` and ``provider_spec("acme")``
find it without touching Puente. Built-ins are described in ``catalogue.py``; their connectors
resolve from there before the package metadata is refreshed (an editable install that predates
the entry point). Built-in specs need no import of their connector, so listing them is cheap.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from puente.providers.base import Connector, ProviderConfig
from puente.providers.catalogue import BUILTIN_SPECS
from puente.providers.errors import ProviderConfigError
from puente.providers.spec import ProviderSpec

__all__ = [
    "BUILTIN_CONNECTORS",
    "ENTRY_POINT_GROUP",
    "ConnectorRegistry",
    "UnknownProvider",
    "available_providers",
    "create_connector",
    "default_registry",
    "get_connector_class",
    "provider_spec",
    "provider_specs",
    "register_connector",
]

logger = logging.getLogger("puente.providers")

ENTRY_POINT_GROUP = "puente.providers"

# name -> "module:Class", from the built-in specs (catalogue.py).
BUILTIN_CONNECTORS: dict[str, str] = {spec.name: spec.connector for spec in BUILTIN_SPECS}
_BUILTIN_SPECS: dict[str, ProviderSpec] = {spec.name: spec for spec in BUILTIN_SPECS}


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
        # Reading the package metadata takes tens of milliseconds and every payment asks
        # for its provider's spec: read once per discovery function (tests swap it).
        self._points: tuple[object, dict[str, EntryPoint]] | None = None

    def register(self, name: str, target: str | type[Connector]) -> None:
        """Register a connector in code (tests, plugins loaded by hand); wins over the rest."""
        self._registered[name] = target
        self._cache.pop(name, None)

    def unregister(self, name: str) -> None:
        """Undo ``register`` (tests)."""
        self._registered.pop(name, None)
        self._cache.pop(name, None)

    def _entry_points(self) -> dict[str, EntryPoint]:
        if self._points is not None and self._points[0] is self._discovered:
            return self._points[1]
        try:
            found = {ep.name: ep for ep in self._discovered()}
        except Exception:  # broken metadata must not take the built-ins down with it
            logger.exception("could not read %s entry points", self._group)
            return {}
        self._points = (self._discovered, found)
        return found

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

    def spec(self, name: str) -> ProviderSpec:
        """``name``'s description: the built-in one while its built-in connector is in use
        (no import needed), else the spec its connector class carries."""
        builtin = _BUILTIN_SPECS.get(name)
        if builtin is not None and self._target(name) == builtin.connector:
            return builtin
        cls = self.get(name)
        if cls.spec is None or cls.spec.name != name:
            raise ProviderConfigError(f"connector {name!r} carries no ProviderSpec named {name!r}")
        return cls.spec

    def _target(self, name: str) -> object:
        """What ``name`` resolves to, without importing it."""
        if name in self._registered:
            return self._registered[name]
        found = self._entry_points().get(name)
        return found.value if found is not None else self._builtins.get(name)

    def specs(self) -> list[ProviderSpec]:
        """Every provider's spec: the built-ins in the catalogue's order, then the others by
        name; a plug-in whose connector cannot load is skipped."""
        names = self.names()
        found: list[ProviderSpec] = []
        for name in [
            *(n for n in self._builtins if n in names),
            *sorted(set(names) - set(self._builtins)),
        ]:
            try:
                found.append(self.spec(name))
            except ProviderConfigError:
                logger.exception("provider %s left out: no usable spec", name)
        return found

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


def provider_spec(name: str) -> ProviderSpec:
    """The ``ProviderSpec`` of ``name``; raises ``UnknownProvider`` if there is none."""
    return default_registry.spec(name)


def provider_specs() -> list[ProviderSpec]:
    """Every registered provider's spec: built-ins in the catalogue's order, then plug-ins."""
    return default_registry.specs()


def register_connector(name: str, target: str | type[Connector]) -> None:
    """Register a connector in code, e.g. ``register_connector("acme", "pkg.mod:Acme")``."""
    default_registry.register(name, target)


def create_connector(name: str, config: ProviderConfig, **kwargs: Any) -> Connector:
    """Build the connector for ``name``."""
    return default_registry.create(name, config, **kwargs)
