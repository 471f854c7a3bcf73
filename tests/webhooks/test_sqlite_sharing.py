"""One SQLite file written by two processes (`puente serve` and its `puente worker`):
a transaction never fails half-way because the other process committed, and the inbox
writer waits out the other's write lock, answering 503 (never 2xx) if it cannot get it."""

from __future__ import annotations

import asyncio
import sqlite3
import threading

import pytest
from tests.payments.test_webhooks import intent_event, setup, signed
from tests.support import factories
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from puente.webhooks import writer as writer_module
from puente.webhooks.models import ProviderEvent
from puente.webhooks.writer import InboxWriter

from .test_group_commit import received

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.parametrize("database_url", ["sqlite"], indirect=True),
]


def _path(database_url: str) -> str:
    return database_url.removeprefix("sqlite://")


def _other_process_writes(path: str, done: threading.Event) -> None:
    """Another process's write: one committed row (waits for our write lock, up to 5 s)."""
    other = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        other.execute("CREATE TABLE IF NOT EXISTS other_process (n INTEGER)")
        other.execute("INSERT INTO other_process VALUES (1)")
    finally:
        other.close()
        done.set()


async def test_a_transaction_that_read_first_can_still_write_after_another_process_wrote(
    db, database_url
):
    inst = await factories.institution()
    done = threading.Event()
    async with in_transaction() as tx:
        await tx.execute_query("SELECT count(*) FROM institutions")  # a read first
        other = threading.Thread(target=_other_process_writes, args=(_path(database_url), done))
        other.start()
        await asyncio.sleep(0.2)  # with a deferred BEGIN the other commits right here
        # A deferred transaction, whose snapshot is now stale, would be refused this write
        # ("database is locked", SQLITE_BUSY_SNAPSHOT); BEGIN IMMEDIATE made the other wait.
        await tx.execute_query("UPDATE institutions SET name = 'Otra' WHERE id = ?", [inst.id])
    await asyncio.to_thread(done.wait, 10)
    other.join()
    _, rows = await get_connection("default").execute_query("SELECT name FROM institutions")
    assert [row["name"] for row in rows] == ["Otra"]


async def test_the_writer_waits_for_another_process_write_lock_then_stores(db, database_url):
    inst = await factories.institution()
    other = sqlite3.connect(_path(database_url), timeout=5, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # the worker process, mid-application
    store = asyncio.create_task(InboxWriter().store(received(inst.id, "evt_waited")))
    await asyncio.sleep(0.3)
    assert not store.done()  # not acknowledged while it cannot be written
    other.execute("COMMIT")
    other.close()
    assert await asyncio.wait_for(store, 5) is True
    assert await ProviderEvent.filter(event_id="evt_waited").count() == 1
    # The connection's busy timeout, switched off for the INSERT's own retries, is back.
    _, rows = await get_connection("default").execute_query("PRAGMA busy_timeout")
    assert rows[0][0] == 5000  # aiosqlite's default: 5 s


async def test_a_webhook_that_cannot_get_the_write_lock_in_time_is_a_503(
    db, runtime, database_url, monkeypatch
):
    ana, loan, box, client = await setup(runtime)
    monkeypatch.setattr(writer_module, "LOCKED_RETRY_SECONDS", 0.2)
    raw, headers = signed(runtime, intent_event("evt_locked", "pi_locked"))
    other = sqlite3.connect(_path(database_url), timeout=5, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        async with client:
            answer = await client.post("/webhooks/stripe", content=raw, headers=headers)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert answer.status_code == 503 and answer.headers["retry-after"]
    assert not await ProviderEvent.filter(event_id="evt_locked").exists()
