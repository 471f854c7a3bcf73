"""One event bus: in-process by default, Redis pub/sub when ``PUENTE_REDIS_URL`` is set.

Messages are small JSON objects naming what changed (``{"payment": 12, "status": "paid"}``);
subscribers reload the current state from the database, so a lost or reordered notice can
never show a wrong balance, only a late one. Both buses deliver through one
:class:`~puente.events.fanout.LocalFanout` per process (bounded inboxes, a slow subscriber
loses only its own old notices); :mod:`puente.events.redis_bus` carries notices between
processes over one Redis subscription connection per process.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from puente.events.fanout import Inbox, LocalFanout
from puente.events.redis_bus import BusUnavailable, RedisBus
from puente.observability.metrics import SUBSCRIPTIONS

__all__ = ["BusUnavailable", "EventBus", "InMemoryBus", "RedisBus", "create_bus"]


class EventBus(Protocol):
    async def publish(self, channel: str, message: Mapping[str, Any]) -> None: ...

    def subscribe(
        self, channel: str
    ) -> contextlib.AbstractAsyncContextManager[AsyncIterator[dict[str, Any]]]: ...

    async def close(self) -> None: ...

    async def healthy(self) -> bool: ...


class InMemoryBus:
    """Fan-out to subscribers of this process."""

    def __init__(self) -> None:
        self._fanout = LocalFanout()

    @property
    def _subscribers(self) -> dict[str, set[Inbox]]:
        return self._fanout.channels

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        payload = json.loads(json.dumps(dict(message)))  # same shape as over Redis
        self._fanout.deliver(channel, payload)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        inbox = self._fanout.add(channel)
        live = SUBSCRIPTIONS.labels("memory")
        live.inc()
        try:
            yield inbox
        finally:
            live.dec()
            self._fanout.remove(channel, inbox)

    async def close(self) -> None:
        self._fanout.close()

    async def healthy(self) -> bool:
        return True


def create_bus(redis_url: str | None) -> EventBus:
    """Redis when configured (several server processes), else in-process."""
    return RedisBus(redis_url) if redis_url else InMemoryBus()
