"""What the provider tests share: connectors wired to a fake network, and JSON answers.

A connector built here talks to ``handler`` (an ``httpx.MockTransport`` function) with fresh
metrics and breakers, no jitter and a ``sleep`` that only records how long it was asked to
wait (``connector.sleeps``), so retry tests run instantly and can assert the backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import httpx

from puente.providers.base import Connector, ProviderConfig
from puente.providers.circuit import CircuitBreakers
from puente.providers.metrics import ProviderMetrics

__all__ = ["Handler", "answer", "mock_connector", "recording"]

Handler = Callable[[httpx.Request], httpx.Response]
C = TypeVar("C", bound=Connector)


def mock_connector(
    cls: type[C],
    credentials: Mapping[str, str],
    handler: Handler,
    *,
    config: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> C:
    """A ``cls`` connector whose network is ``handler``; ``config`` adds ProviderConfig fields."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    connector = cls(
        ProviderConfig(
            credentials=dict(credentials),
            transport=httpx.MockTransport(handler),
            **dict(config or {}),
        ),
        metrics=ProviderMetrics(),
        breakers=CircuitBreakers(),
        sleep=sleep,
        random=lambda: 0.0,
        **kwargs,
    )
    connector.sleeps = sleeps  # type: ignore[attr-defined]
    return connector


def answer(body: object, status: int = 200, **headers: str) -> httpx.Response:
    """A JSON answer with ``status`` and extra ``headers``."""
    return httpx.Response(status, json=body, headers=headers)


def recording(handler: Handler) -> tuple[Handler, list[httpx.Request]]:
    """``handler`` that also keeps every request it answers, in order (the list returned)."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return record, seen
