"""Outages: a webhook is never acknowledged unless stored, and Redis coming back is noticed."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time

import pytest
from tests.payments.test_webhooks import intent_event, setup, signed
from tests.support.http import app_client
from tortoise.exceptions import OperationalError

from puente.events.bus import RedisBus
from puente.webhooks.models import ProviderEvent
from puente.webhooks.writer import InboxWriter

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "failure",
    [
        OperationalError("server closed the connection unexpectedly"),
        ConnectionRefusedError(111, "Connect call failed"),
    ],
    ids=["statement-failed", "connection-refused"],
)
async def test_a_webhook_that_cannot_be_stored_is_a_503_never_a_2xx(
    db, runtime, monkeypatch, failure
):
    ana, loan, box, client = await setup(runtime)

    async def database_down(*args, **kwargs):
        raise failure

    raw, headers = signed(runtime, intent_event("evt_outage", "pi_outage"))
    async with client:
        monkeypatch.setattr(InboxWriter, "_insert", database_down)
        answer = await client.post("/webhooks/stripe", content=raw, headers=headers)
        monkeypatch.undo()
        assert answer.status_code == 503 and answer.headers["retry-after"]
        assert not await ProviderEvent.filter(event_id="evt_outage").exists()
        retried = await client.post("/webhooks/stripe", content=raw, headers=headers)
    assert retried.status_code == 200  # the provider's retry, once the database is back
    assert await ProviderEvent.filter(event_id="evt_outage").count() == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _redis_server(port: int) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise RuntimeError("redis-server did not start")


async def test_readyz_follows_redis_down_and_back_and_the_bus_recovers(db, runtime):
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed: a Redis restart cannot be exercised"
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    server = _redis_server(port)
    runtime.bus = RedisBus(f"redis://127.0.0.1:{port}/0")
    try:
        async with app_client(runtime, run_workers=False) as client:
            assert (await client.get("/readyz")).status_code == 200
            server.kill()
            server.wait(timeout=5)
            down = await client.get("/readyz")
            assert down.status_code == 503 and "event bus" in down.json()["status"]
            server = _redis_server(port)  # Redis restarts (empty, as after a crash)
            assert (await client.get("/readyz")).status_code == 200
            async with runtime.bus.subscribe("payment:9") as messages:
                await asyncio.sleep(0.05)
                await runtime.bus.publish("payment:9", {"payment": 9})
                assert await asyncio.wait_for(anext(messages), 5) == {"payment": 9}
    finally:
        await runtime.bus.close()
        server.kill()
        server.wait(timeout=5)


async def test_a_live_subscription_keeps_receiving_after_redis_restarts():
    """The bus's one subscription connection reconnects by itself; subscribers are told to
    reload (what was published while Redis was down is gone) and then receive as before."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed: a Redis restart cannot be exercised"
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    port = _free_port()
    server = _redis_server(port)
    bus = RedisBus(f"redis://127.0.0.1:{port}/0")
    try:
        async with bus.subscribe("loan:4") as first, bus.subscribe("loan:4") as second:
            await bus.publish("loan:4", {"loan": 4})
            assert await asyncio.wait_for(anext(first), 5) == {"loan": 4}
            assert await asyncio.wait_for(anext(second), 5) == {"loan": 4}
            server.kill()
            server.wait(timeout=5)
            with pytest.raises(Exception):  # noqa: B017 - whatever redis-py raises
                await bus.publish("loan:4", {"loan": 4, "lost": True})
            server = _redis_server(port)  # Redis restarts (empty, as after a crash)
            assert await asyncio.wait_for(anext(first), 10) == {"resync": True}
            assert await asyncio.wait_for(anext(second), 10) == {"resync": True}
            await bus.publish("loan:4", {"loan": 4, "after": "restart"})
            assert await asyncio.wait_for(anext(first), 5) == {"loan": 4, "after": "restart"}
            assert await asyncio.wait_for(anext(second), 5) == {"loan": 4, "after": "restart"}
    finally:
        await bus.close()
        server.kill()
        server.wait(timeout=5)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_postgresql_restart_is_reported_then_survived(db, database_url, runtime):
    """Every pooled connection dies and new ones are refused for a while (what a restart
    looks like from the app): /readyz says so, webhooks are refused unstored, and once the
    server takes connections again the app recovers by itself."""
    from tests.conftest import _pg_admin

    name = database_url.rsplit("/", 1)[1]
    ana, loan, box, client = await setup(runtime)
    raw, headers = signed(runtime, intent_event("evt_pg_restart", "pi_pg_restart"))
    try:
        async with client:
            assert (await client.get("/readyz")).status_code == 200
            await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            await _pg_admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            down = await client.get("/readyz")
            assert down.status_code == 503 and "database" in down.json()["status"]
            refused = await client.post("/webhooks/stripe", content=raw, headers=headers)
            assert refused.status_code == 503  # not stored, so not acknowledged
            await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            for _ in range(20):  # the pool reconnects on its own
                if (await client.get("/readyz")).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/readyz")).status_code == 200
            stored = await client.post("/webhooks/stripe", content=raw, headers=headers)
            assert stored.status_code == 200
            assert await ProviderEvent.filter(event_id="evt_pg_restart").count() == 1
    finally:
        await _pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
