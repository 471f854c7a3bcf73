"""Finding connectors by name: built-ins, entry points, code registration."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import httpx
import pytest

from puente.providers.base import Connector, ConnectorKind, ProviderConfig
from puente.providers.errors import ProviderConfigError, ProviderError
from puente.providers.registry import (
    ConnectorRegistry,
    UnknownProvider,
    available_providers,
    get_connector_class,
)
from puente.providers.stripe import StripeConnector


class AcmeConnector(Connector):
    """A stand-in third-party connector (only what the registry looks at)."""

    name = "acme"
    kind = ConnectorKind.GATEWAY
    credential_fields = ("api_key",)
    default_base_url = "https://api.acme.test"

    def parse_error(self, response: httpx.Response) -> ProviderError:
        return ProviderError("unused", provider=self.name)


def test_builtin_stripe_is_available() -> None:
    assert "stripe" in available_providers()
    assert get_connector_class("stripe") is StripeConnector


def test_entry_points_are_discovered() -> None:
    point = EntryPoint("acme", f"{__name__}:AcmeConnector", "puente.providers")
    registry = ConnectorRegistry(discovered=lambda: [point])
    assert "acme" in registry.names() and "stripe" in registry.names()
    assert registry.get("acme") is AcmeConnector
    connector = registry.create("acme", ProviderConfig(credentials={"api_key": "k" * 20}))
    assert isinstance(connector, AcmeConnector)


def test_code_registration_wins_and_can_be_undone() -> None:
    registry = ConnectorRegistry(builtins={})
    registry.register("acme", AcmeConnector)
    assert registry.get("acme") is AcmeConnector
    registry.unregister("acme")
    with pytest.raises(UnknownProvider):
        registry.get("acme")


def test_unknown_and_broken_entries_are_config_errors() -> None:
    broken = EntryPoint("acme", "no_such_module_xyz:Thing", "puente.providers")
    registry = ConnectorRegistry(
        builtins={"wrong": f"{__name__}:AcmeConnector"}, discovered=lambda: [broken]
    )
    with pytest.raises(UnknownProvider, match="available"):
        registry.get("nope")
    with pytest.raises(ProviderConfigError, match="could not be loaded"):
        registry.get("acme")
    with pytest.raises(ProviderConfigError, match="registered as 'wrong'"):
        registry.get("wrong")
    registry.register("notaclass", "builtins:len")
    with pytest.raises(ProviderConfigError, match="Connector subclass"):
        registry.get("notaclass")


def test_broken_metadata_does_not_hide_builtins() -> None:
    def explode() -> list[EntryPoint]:
        raise RuntimeError("corrupt metadata")

    assert "stripe" in ConnectorRegistry(discovered=explode).names()


def test_missing_credentials_name_the_env_var_not_a_value() -> None:
    with pytest.raises(ProviderConfigError, match="PUENTE_STRIPE_WEBHOOK_SECRET"):
        StripeConnector(ProviderConfig(credentials={"secret_key": "sk_test_x"}))
