"""`puente serve` with its webhook worker in a process of its own (PUENTE_WEBHOOK_WORKER=process):
the server acknowledges, the worker applies, SIGTERM stops both, and a worker whose serve was
killed stops by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from tests.conftest import PRIVATE_POSTGRES, _init
from tests.support import factories
from tests.support.servers import free_port, serve, server_env, stripe_succeeded, wait_ready

from puente.config import ConfigError, load_settings
from puente.enums import JournalKind, PaymentStatus
from puente.ledger.models import JournalEntry
from puente.payments.models import Payment
from puente.providers.stripe_webhooks import stripe_signature_header

REDIS_URL = os.environ.get("PUENTE_TEST_REDIS_URL", "")
WEBHOOK_SECRET = "whsec_worker_process_0123456789"


def _children(pid: int) -> list[int]:
    """The processes ``pid`` started (Linux /proc)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(child) for child in (task / "children").read_text().split()]
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status").read_text()
    return "\nState:\tZ" not in status  # a zombie has stopped; its parent just has not reaped it


def _wait_for(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_process_worker_without_redis_is_refused():
    with pytest.raises(ConfigError, match="PUENTE_REDIS_URL"):
        load_settings({"PUENTE_WEBHOOK_WORKER": "process"})
    assert load_settings({}).webhook_worker == "inline"
    assert load_settings({"PUENTE_REDIS_URL": "redis://x"}).webhook_worker == "process"
    inline = {"PUENTE_REDIS_URL": "redis://x", "PUENTE_WEBHOOK_WORKER": "inline"}
    assert load_settings(inline).webhook_worker == "inline"


@pytest.mark.parametrize("database_url", ["sqlite", PRIVATE_POSTGRES], indirect=True)
def test_serve_acknowledges_its_worker_process_applies_and_sigterm_stops_both(
    database_url, runtime, clock
):
    if not REDIS_URL:
        if os.environ.get("CI_REQUIRE_REDIS") == "1":
            pytest.fail("PUENTE_TEST_REDIS_URL is required in CI")
        pytest.skip("PUENTE_TEST_REDIS_URL is not set: the worker process needs Redis")
    clock.now = datetime.now(UTC)

    async def seed() -> list[int]:
        from tortoise import Tortoise

        await _init(database_url)
        try:
            inst = await factories.institution()
            inst.settings = {"env_credentials": True}
            await inst.save()
            ana = await factories.user(runtime, inst)
            loan = await factories.active_loan(inst, ana, principal="50000.00")
            ids = []
            for n in range(3):
                payment = await factories.payment(
                    loan, key=f"w-{n}", amount_centavos=10000, provider_reference=f"pi_worker_{n}"
                )
                ids.append(payment.id)
            return ids
        finally:
            await Tortoise.close_connections()

    async def applied(ids: list[int]) -> tuple[list[str], int]:
        from tortoise import Tortoise

        await _init(database_url)
        try:
            statuses = (
                await Payment.filter(id__in=ids).order_by("id").values_list("status", flat=True)
            )
            entries = await JournalEntry.filter(kind=JournalKind.PAYMENT, payment_id__in=ids)
            return [str(s) for s in statuses], len(entries)
        finally:
            await Tortoise.close_connections()

    ids = asyncio.run(seed())
    env = server_env(
        runtime,
        database_url,
        REDIS_URL,
        PUENTE_STRIPE_SECRET_KEY="sk_test_worker_process",
        PUENTE_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        PUENTE_WEBHOOK_WORKER="process",
        PUENTE_ACCESS_LOG="0",
    )
    port = free_port()
    server = serve(env, port)
    try:
        wait_ready(port, server)
        assert _wait_for(lambda: len(_children(server.pid)) == 1, 10)
        [worker] = _children(server.pid)
        for n in range(3):
            body = stripe_succeeded(f"evt_worker_{n}", f"pi_worker_{n}", 10000)
            answer = httpx.post(
                f"http://127.0.0.1:{port}/webhooks/stripe",
                content=body,
                headers={
                    "stripe-signature": stripe_signature_header(
                        body, WEBHOOK_SECRET, int(time.time())
                    ),
                    "content-type": "application/json",
                },
                timeout=10,
            )
            assert answer.status_code == 200
        assert _wait_for(lambda: asyncio.run(applied(ids))[0] == ["paid"] * 3, 30)
        assert asyncio.run(applied(ids)) == ([PaymentStatus.PAID.value] * 3, 3)  # once each

        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=40) == -signal.SIGTERM  # stopped by it, as before
        assert not _alive(worker)  # serve stopped (and reaped) its worker before leaving
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        server.log.close()  # type: ignore[attr-defined]

    # A serve killed without a goodbye: its worker notices and stops by itself.
    server = serve(env, port)
    worker = None
    try:
        wait_ready(port, server)
        assert _wait_for(lambda: len(_children(server.pid)) == 1, 10)
        [worker] = _children(server.pid)
        server.kill()
        server.wait(timeout=10)
        assert _wait_for(lambda: not _alive(worker), 15)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        server.log.close()  # type: ignore[attr-defined]
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)
