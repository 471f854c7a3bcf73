"""Every connector answers webhooks through one async signature, the one the inbox calls."""

from __future__ import annotations

import inspect

import pytest

from puente.providers.base import Connector
from puente.providers.catalogue import BUILTIN_SPECS
from puente.providers.registry import get_connector_class

WEBHOOK_PROVIDERS = [spec.name for spec in BUILTIN_SPECS if spec.webhook is not None]


@pytest.mark.parametrize("name", WEBHOOK_PROVIDERS)
def test_every_connector_verifies_webhooks_with_the_one_async_signature(name: str) -> None:
    connector = get_connector_class(name)
    assert inspect.iscoroutinefunction(connector.verify_webhook)
    expected = inspect.signature(Connector.verify_webhook)
    assert inspect.signature(connector.verify_webhook) == expected
    # No second way in: the inbox and the tests call the same method.
    assert not hasattr(connector, "verify_webhook_async")


def test_the_signature_takes_the_clock_and_the_senders_address() -> None:
    parameters = inspect.signature(Connector.verify_webhook).parameters
    assert list(parameters) == ["self", "raw_body", "headers", "now", "client_ip"]
    assert parameters["now"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["client_ip"].default is None
