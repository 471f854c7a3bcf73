"""One event bus: in-process by default, Redis pub/sub when ``PUENTE_REDIS_URL`` is set.

Messages are small JSON objects naming what changed (``{"payment": 12, "status": "paid"}``);
subscribers reload the current state from the database, so a lost or reordered notice can
never show a wrong balance, only a late one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any, Protocol

from puente.observability.metrics import SUBSCRIPTIONS

__all__ = ["EventBus", "InMemoryBus", "RedisBus", "create_bus"]

logger = logging.getLogger("puente.events")

QUEUE_LIMIT = 1000  # per subscriber; a stuck subscriber loses old notices, not memory


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
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any]]]] = {}

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        payload = json.loads(json.dumps(dict(message)))  # same shape as over Redis
        for queue in list(self._subscribers.get(channel, ())):
            if queue.full():
                queue.get_nowait()  # drop the oldest: subscribers reload state anyway
            queue.put_nowait(payload)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self._subscribers.setdefault(channel, set()).add(queue)
        live = SUBSCRIPTIONS.labels("memory")
        live.inc()

        async def messages() -> AsyncIterator[dict[str, Any]]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            live.dec()
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(queue)
                if not subscribers:
                    del self._subscribers[channel]

    async def close(self) -> None:
        self._subscribers.clear()

    async def healthy(self) -> bool:
        return True


class RedisBus:
    """Fan-out across processes through Redis pub/sub (one connection per subscription)."""

    def __init__(self, url: str, *, prefix: str = "puente:") -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._redis.publish(self._prefix + channel, json.dumps(dict(message)))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._prefix + channel)
        live = SUBSCRIPTIONS.labels("redis")
        live.inc()

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for raw in pubsub.listen():
                if raw.get("type") != "message":
                    continue
                try:
                    yield json.loads(raw["data"])
                except (TypeError, ValueError):
                    logger.warning("ignoring a malformed event on %s", channel)

        try:
            yield messages()
        finally:
            live.dec()
            await pubsub.unsubscribe()
            await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()

    async def healthy(self) -> bool:
        """Redis answers a PING within a second (``/readyz`` reports it otherwise)."""
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), timeout=1.0))
        except Exception:  # noqa: BLE001 - any failure to answer means not ready
            return False


def create_bus(redis_url: str | None) -> EventBus:
    """Redis when configured (several server processes), else in-process."""
    return RedisBus(redis_url) if redis_url else InMemoryBus()
