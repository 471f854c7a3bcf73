"""The event bus delivers to every subscriber of a channel, in process and across Redis."""

from __future__ import annotations

import asyncio
import os

import pytest

from puente.events.bus import InMemoryBus, RedisBus

pytestmark = pytest.mark.anyio
REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")


async def _first(subscription) -> dict:
    return await asyncio.wait_for(anext(subscription), timeout=5)


async def test_in_memory_bus_fans_out_and_forgets_closed_subscribers():
    bus = InMemoryBus()
    async with bus.subscribe("payment:1") as a, bus.subscribe("payment:1") as b:
        await bus.publish("payment:1", {"payment": 1, "status": "paid"})
        await bus.publish("payment:2", {"payment": 2})
        assert await _first(a) == {"payment": 1, "status": "paid"}
        assert await _first(b) == {"payment": 1, "status": "paid"}
    assert bus._subscribers == {}


async def test_redis_bus_carries_events_between_two_connections():
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set: Redis bus not exercised")
    publisher, subscriber = RedisBus(REDIS_URL), RedisBus(REDIS_URL)
    channel = f"test:{os.getpid()}"
    try:
        async with subscriber.subscribe(channel) as messages:
            await asyncio.sleep(0.05)
            await publisher.publish(channel, {"loan": 7})
            assert await _first(messages) == {"loan": 7}
    finally:
        await publisher.close()
        await subscriber.close()
