"""The fan-out holds at any subscriber count: one Redis subscription per process, bounded
per-subscriber inboxes where a slow reader loses only its own old notices."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from puente.events.bus import InMemoryBus, RedisBus
from puente.observability.metrics import SUBSCRIPTIONS

pytestmark = pytest.mark.anyio
REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")


def _require_redis() -> str:
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set: Redis fan-out not exercised")
    return REDIS_URL


def _channel() -> str:
    return f"test:{os.getpid()}:{uuid.uuid4().hex}"  # the test Redis is shared


async def _subscribe_many(bus, channel: str, count: int, stack) -> list:
    return [await stack.enter_async_context(bus.subscribe(channel)) for _ in range(count)]


async def _receive_all(inboxes: list) -> list[dict]:
    return await asyncio.wait_for(asyncio.gather(*(anext(inbox) for inbox in inboxes)), 10)


@pytest.mark.parametrize("count", [500, 1000])
async def test_hundreds_of_subscribers_through_redis_all_receive_an_event(count):
    """Issue 15: past ~196 subscriptions each with its own pooled connection, delivery broke
    for everyone. Publisher and subscribers are separate buses, as in two processes."""
    url = _require_redis()
    import contextlib

    publisher, subscriber = RedisBus(url), RedisBus(url)
    channel = _channel()
    try:
        async with contextlib.AsyncExitStack() as stack:
            inboxes = await _subscribe_many(subscriber, channel, count, stack)
            await publisher.publish(channel, {"payment": 5, "status": "paid"})
            received = await _receive_all(inboxes)
            assert received == [{"payment": 5, "status": "paid"}] * count
            await publisher.publish(channel, {"payment": 5, "status": "refunded"})
            assert await _receive_all(inboxes) == [{"payment": 5, "status": "refunded"}] * count
    finally:
        await publisher.close()
        await subscriber.close()


async def test_one_process_reads_every_channel_over_one_redis_connection():
    url = _require_redis()
    import contextlib

    bus = RedisBus(url)
    channels = [_channel() for _ in range(50)]
    try:
        async with contextlib.AsyncExitStack() as stack:
            for channel in channels:
                await _subscribe_many(bus, channel, 4, stack)
            assert bus.subscriber_connections == 1
            for channel in channels:  # publishing takes no subscriber's connection
                await bus.publish(channel, {"loan": 1})
    finally:
        await bus.close()


def _buses():
    yield pytest.param(lambda: InMemoryBus(), id="memory")
    yield pytest.param(lambda: RedisBus(_require_redis()), id="redis")


@pytest.mark.parametrize("make_bus", list(_buses()))
async def test_a_slow_subscriber_loses_its_own_old_notices_and_blocks_no_one(make_bus):
    from puente.events.fanout import INBOX_LIMIT

    bus = make_bus()
    channel = _channel()
    sent = INBOX_LIMIT + 5
    try:
        async with bus.subscribe(channel) as stuck, bus.subscribe(channel) as reader:
            got: list[dict] = []
            for number in range(sent):
                await bus.publish(channel, {"n": number})
                got.append(await asyncio.wait_for(anext(reader), 5))
            assert got == [{"n": n} for n in range(sent)]  # the reader missed nothing
            # The stuck one kept the newest notices, the oldest went: it reloads state anyway.
            assert await asyncio.wait_for(anext(stuck), 5) == {"n": sent - INBOX_LIMIT}
    finally:
        await bus.close()


@pytest.mark.parametrize("make_bus", list(_buses()))
async def test_the_subscription_gauge_follows_live_subscriptions(make_bus):
    bus = make_bus()
    gauge = SUBSCRIPTIONS.labels("redis" if isinstance(bus, RedisBus) else "memory")
    before = gauge._value.get()
    try:
        async with bus.subscribe("payment:1"), bus.subscribe("payment:2"):
            assert gauge._value.get() == before + 2
            with pytest.raises(RuntimeError):
                async with bus.subscribe("payment:3"):
                    assert gauge._value.get() == before + 3
                    raise RuntimeError("the subscriber failed")
            assert gauge._value.get() == before + 2
    finally:
        await bus.close()
    assert gauge._value.get() == before


@pytest.mark.parametrize("make_bus", list(_buses()))
async def test_closing_the_bus_ends_every_live_subscription(make_bus):
    bus = make_bus()
    async with bus.subscribe(_channel()) as inbox:
        waiting = asyncio.create_task(anext(inbox))
        await asyncio.sleep(0.05)
        await bus.close()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(waiting, 5)


async def test_every_subscriber_of_an_event_in_a_process_gets_the_same_reload():
    """A notice is parsed once per process; ``once`` runs a reload once for all of them."""
    bus = InMemoryBus()
    loads: list[int] = []

    async def reload() -> str:
        loads.append(1)
        await asyncio.sleep(0.01)
        return "fresh state"

    import contextlib

    async with contextlib.AsyncExitStack() as stack:
        inboxes = await _subscribe_many(bus, "payment:8", 50, stack)
        await bus.publish("payment:8", {"payment": 8})
        notices = await _receive_all(inboxes)
        states = await asyncio.gather(*(n.once(("payment", 8), reload) for n in notices))
        assert states == ["fresh state"] * 50 and len(loads) == 1
        await bus.publish("payment:8", {"payment": 8})
        second = await _receive_all(inboxes)
        await asyncio.gather(*(n.once(("payment", 8), reload) for n in second))
        assert len(loads) == 2  # a new event is a new reload


async def test_close_returns_even_when_redis_py_turns_the_cancel_into_an_error(monkeypatch):
    """redis-py may answer a cancelled read with a ConnectionError; the listener must not take
    that for a lost Redis and reconnect forever, which left ``close()`` waiting for ever."""
    url = _require_redis()
    from redis.asyncio.client import PubSub
    from redis.exceptions import ConnectionError as RedisConnectionError

    real = PubSub.get_message

    async def swallowing(self, *args, **kwargs):
        try:
            return await real(self, *args, **kwargs)
        except asyncio.CancelledError:
            raise RedisConnectionError("Connection closed by server.") from None

    monkeypatch.setattr(PubSub, "get_message", swallowing)
    bus = RedisBus(url)
    async with bus.subscribe(_channel()):
        await asyncio.sleep(0.05)
    closing = asyncio.create_task(bus.close())
    done, _ = await asyncio.wait({closing}, timeout=5)  # fails, not hangs, if it never ends
    assert closing in done
