"""Fan-out across processes through Redis pub/sub, at any number of subscribers.

Each process holds **one** Redis subscription connection, pattern-subscribed to every
Puente channel (``puente:*``), read by one listener task that hands each message to the
process's :class:`~puente.events.fanout.LocalFanout`. Publishing goes over a separate,
bounded, blocking pool. Before this (issue 15), every subscription borrowed its own pooled
connection: past ~196 subscribers redis-py's limit of 100 was hit, new subscriptions failed,
the publisher could not get a connection, and the event was lost for everyone.

Why a pattern and not one ``SUBSCRIBE`` per channel: a new local subscriber is covered the
moment the listener is connected (no round trip, no race between "subscribed" and "read the
current state"), and a reconnect re-subscribes one pattern. The price is that every process
sees every notice; notices are a few bytes of ids, and a process with no subscriber for a
channel drops them in a dictionary lookup.

When Redis goes away the listener retries with capped backoff; once it is back, every local
subscriber gets a ``{"resync": true}`` notice (what was published meanwhile is gone, so they
reload once). Subscribing while Redis is down waits up to ``connect_timeout`` for the
listener, then raises :class:`BusUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from puente.events.fanout import Inbox, LocalFanout
from puente.observability.metrics import SUBSCRIPTIONS

__all__ = ["BusUnavailable", "RedisBus"]

logger = logging.getLogger("puente.events")

PUBLISH_CONNECTIONS = 32  # concurrent publishes per process; more wait (never fail) ...
PUBLISH_WAIT = 5.0  # ... up to this many seconds for a free connection
RETRY_FIRST, RETRY_MAX = 0.05, 2.0  # listener reconnect backoff (seconds)
IDLE_CHECK = 5.0  # the listener pings an idle connection this often, to notice a dead peer
CLOSE_WAIT = 1.0  # close(): seconds for the listener, then for each pool, to finish


async def _ended(task: asyncio.Future[Any], seconds: float) -> bool:
    """Wait up to ``seconds`` for ``task`` to end, never longer (unlike ``wait_for``, which
    waits for a cancelled task to finish); True if it ended (its outcome is consumed)."""
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if done:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            task.result()
    return bool(done)


def _cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


class BusUnavailable(ConnectionError):
    """Redis cannot be reached, so a subscription could not be opened."""


class RedisBus:
    """One subscription connection per process, in-memory fan-out, publish over its own pool."""

    def __init__(self, url: str, *, prefix: str = "puente:", connect_timeout: float = 2.0) -> None:
        import redis.asyncio as redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._prefix = prefix
        self._connect_timeout = connect_timeout
        self._publisher = redis.Redis(
            connection_pool=redis.BlockingConnectionPool.from_url(
                url,
                max_connections=PUBLISH_CONNECTIONS,
                timeout=PUBLISH_WAIT,
                socket_connect_timeout=connect_timeout,
            )
        )
        # The listener's client does not retry by itself: the listener loop reconnects, so it
        # knows when notices may have been lost and can tell subscribers to reload.
        self._listener_client = redis.Redis.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=connect_timeout,
            health_check_interval=int(IDLE_CHECK),
        )
        self._fanout = LocalFanout()
        self._listener: asyncio.Task[None] | None = None
        self._connected: asyncio.Event | None = None

    @property
    def subscriber_connections(self) -> int:
        """Redis connections used for subscriptions by this process: 1 while any is live."""
        return int(self._connected is not None and self._connected.is_set())

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._publisher.publish(self._prefix + channel, json.dumps(dict(message)))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        await self._listening()
        inbox: Inbox = self._fanout.add(channel)  # no await since the listener was seen up
        live = SUBSCRIPTIONS.labels("redis")
        live.inc()
        try:
            yield inbox
        finally:
            live.dec()
            self._fanout.remove(channel, inbox)

    async def close(self) -> None:
        """Stop listening, end every subscription, release connections (usable again after).

        Bounded: a listener cancelled inside redis-py's ``get_message`` was once seen never
        to finish (its task "cancelling", waiting on a future that never resolved: the
        process hung at shutdown, for half an hour until killed). So it gets ``CLOSE_WAIT``
        seconds; then the connections are closed under it, which ends a pending read, and
        it gets ``CLOSE_WAIT`` more before close() gives up on it (logged).
        """
        listener, self._listener, self._connected = self._listener, None, None
        if listener is not None:
            listener.cancel()
            await _ended(listener, CLOSE_WAIT)
        self._fanout.close()
        for pool in (self._listener_client.connection_pool, self._publisher.connection_pool):
            if not await _ended(asyncio.ensure_future(pool.disconnect()), CLOSE_WAIT):
                logger.warning("event bus: Redis connections not closed within %s s", CLOSE_WAIT)
        if listener is not None and not await _ended(listener, CLOSE_WAIT):
            logger.warning("event bus: the Redis listener ignored its cancellation; left behind")

    async def healthy(self) -> bool:
        """Redis answers a PING within a second (``/readyz`` reports it otherwise)."""
        try:
            return bool(await asyncio.wait_for(self._publisher.ping(), timeout=1.0))
        except Exception:  # noqa: BLE001 - any failure to answer means not ready
            return False

    async def _listening(self) -> None:
        """Start the listener if needed and wait until it is subscribed."""
        loop = asyncio.get_running_loop()
        if self._listener is None or self._listener.done() or self._listener.get_loop() != loop:
            self._connected = asyncio.Event()
            self._listener = loop.create_task(self._listen(self._connected), name="redis-bus")
        assert self._connected is not None
        try:
            await asyncio.wait_for(self._connected.wait(), self._connect_timeout)
        except TimeoutError:
            raise BusUnavailable("Redis is not reachable: cannot subscribe") from None

    async def _listen(self, connected: asyncio.Event) -> None:
        delay, lost = RETRY_FIRST, False
        while True:
            pubsub = self._listener_client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.psubscribe(self._prefix + "*")
                connected.set()
                if lost:
                    logger.info("event bus: Redis is back; subscribers reload")
                    self._fanout.resync()
                delay, lost = RETRY_FIRST, False
                while True:
                    raw = await pubsub.get_message(timeout=IDLE_CHECK)
                    if raw is not None and raw.get("type") == "pmessage":
                        self._deliver(raw)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any failure: reconnect, never give up
                if _cancelled():
                    # close() cancelled us and redis-py turned that into a connection error:
                    # reconnecting now would keep close() waiting for ever.
                    raise asyncio.CancelledError from error
                if not lost:
                    logger.warning("event bus: lost Redis (%s); reconnecting", type(error).__name__)
                connected.clear()
                lost = True
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)

    def _deliver(self, raw: Mapping[str, Any]) -> None:
        channel = raw["channel"]
        if isinstance(channel, bytes):
            channel = channel.decode()
        channel = channel.removeprefix(self._prefix)
        try:
            message = json.loads(raw["data"])  # once per process, whatever the subscriber count
        except (TypeError, ValueError):
            logger.warning("ignoring a malformed event on %s", channel)
            return
        if isinstance(message, dict):
            self._fanout.deliver(channel, message)
