"""Storing received events in group commits: one INSERT for the deliveries that arrive together.

A provider is answered 2xx only once its event is durably stored, and a commit (an fsync on
SQLite, a WAL flush on PostgreSQL) per delivery caps how many a process can acknowledge. So
the deliveries that arrive while one write is under way wait for the next one and are
written together, in one statement (one transaction), with no Tortoise model built for them:

    request ─┐                      ┌─ INSERT … VALUES (…), (…), (…)
    request ─┼─► pending ──drain──► │  ON CONFLICT (provider, event_id) DO NOTHING
    request ─┘                      └─ RETURNING provider, event_id ──► each request answered

- A request is answered after the statement holding its row returned, i.e. committed (it
  runs on its own, outside any transaction: the webhook door opens none): never an
  acknowledgement for a row that is not stored.
- Dedupe stays exact: the unique (provider, event_id) decides, also between processes. The
  same event twice in one batch is written once; the later copies are told "duplicate".
- A batch that fails is retried one row at a time, so a bad row fails only its own request
  and a database outage fails each request with its own error (a 503 at the door).
- Nothing waits on a timer: a lone delivery is written at once; batches grow only while the
  database is busy, which is when they pay. On PostgreSQL two statements may be in flight
  (one batch collects while the other commits); SQLite has one writer, so one.
- SQLite shared with another process (the ``puente worker`` applying these events): while
  it holds the write lock, the INSERT retries every millisecond instead of through SQLite's
  busy handler, whose sleeps grow to 25-100 ms and would hold every waiting delivery for
  that long after the lock is free.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError, OperationalError, ValidationError

from puente.enums import ProviderEventStatus
from puente.webhooks.models import ProviderEvent

__all__ = ["MAX_BATCH", "InboxWriter", "ReceivedEvent"]

Key = tuple[str, str]  # (provider, provider's event id): what the inbox deduplicates on

# Rows per statement: 16 parameters each stays far under SQLite's and PostgreSQL's limits
# (32,766 and 32,767 parameters), and a batch this size already amortises the commit.
MAX_BATCH = 256
# SQLite: how long an INSERT keeps retrying while another process holds the write lock
# (the connection's own busy timeout, 5 s, is what every other statement waits).
LOCKED_RETRY_SECONDS = 5.0
LOCKED_RETRY_EVERY = 0.001


@dataclass(frozen=True, slots=True)
class ReceivedEvent:
    """One verified delivery, as the ``provider_events`` row it becomes (field = column)."""

    provider: str
    event_id: str
    event_type: str
    institution_id: int
    kind: str
    provider_payment_id: str | None
    puente_payment_id: str | None
    amount_centavos: int | None
    occurred_at: datetime | None
    raw_body: str  # sealed (``webhooks.storage``)
    headers: dict[str, str]  # without credentials (``webhooks.storage``)
    body_authenticated: bool
    status: ProviderEventStatus
    processed_at: datetime | None
    received_at: datetime
    request_id: str | None

    @property
    def key(self) -> Key:
        """What the inbox deduplicates on."""
        return (self.provider, self.event_id)


_COLUMNS = tuple(f.name for f in fields(ReceivedEvent))
# Columns whose value is the same for every new row (the model's defaults).
_CONSTANT = {"attempts": "0", "last_error": "NULL", "next_attempt_at": "NULL"}
# The model's length limits, checked here as Tortoise would (PostgreSQL would refuse the
# whole statement; SQLite would keep the long value).
_LIMITS = tuple(
    (name, ProviderEvent._meta.fields_map[name].max_length)  # type: ignore[attr-defined]
    for name in ("event_id", "event_type", "kind", "provider_payment_id", "puente_payment_id")
    + ("request_id",)
)
_HEADERS_JSON = ProviderEvent._meta.fields_map["headers"].encoder  # type: ignore[attr-defined]


def _db_values(event: ReceivedEvent) -> list[Any]:
    """The row's values as Tortoise would write them (enum values, JSON text, aware times),
    without building a model: this runs once per delivery."""
    for name, limit in _LIMITS:
        value = getattr(event, name)
        if value is not None and len(value) > limit:
            raise ValidationError(f"{name}: longer than {limit} characters")
    return [
        str(event.provider),  # the door checked it names a registered provider
        event.event_id,
        event.event_type,
        event.institution_id,
        event.kind,
        event.provider_payment_id,
        event.puente_payment_id,
        event.amount_centavos,
        _aware(event.occurred_at),
        event.raw_body,
        _HEADERS_JSON(event.headers),
        event.body_authenticated,
        event.status.value,
        _aware(event.processed_at),
        _aware(event.received_at),
        event.request_id,
    ]


def _aware(moment: datetime | None) -> datetime | None:
    """Stored times are UTC; a naive one is taken as UTC (Tortoise's ``make_aware``)."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment


def _insert_sql(dialect: str, rows: int) -> str:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING`` for ``rows`` rows in ``dialect``."""
    projection = ProviderEvent._meta.fields_db_projection
    names = [projection[name] for name in _COLUMNS] + list(_CONSTANT)
    width = len(_COLUMNS)
    tuples = []
    for row in range(rows):
        if dialect == "postgres":
            params = [f"${row * width + i + 1}" for i in range(width)]
        else:
            params = ["?"] * width
        tuples.append("(" + ", ".join([*params, *_CONSTANT.values()]) + ")")
    columns = ", ".join(f'"{name}"' for name in names)
    return (
        f'INSERT INTO "{ProviderEvent._meta.db_table}" ({columns}) VALUES {", ".join(tuples)} '
        'ON CONFLICT ("provider", "event_id") DO NOTHING RETURNING "provider", "event_id"'
    )


@dataclass(slots=True)
class _Waiting:
    key: Key
    values: list[Any]
    answer: asyncio.Future[bool]


class InboxWriter:
    """Writes received events for one process; ``store`` returns once the row is durable."""

    def __init__(self, connection_name: str = "default", max_batch: int = MAX_BATCH) -> None:
        self.connection_name = connection_name
        self.max_batch = max_batch
        self._pending: list[_Waiting] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._sql: dict[tuple[str, int], str] = {}

    async def store(self, event: ReceivedEvent) -> bool:
        """True once ``event`` is stored; False when it was stored already (a duplicate).

        Raises what the database raised when this event could not be stored.
        """
        values = _db_values(event)  # a malformed row fails its own request, not a batch
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(_Waiting(event.key, values, answer))
        if len(self._writers) < self._write_slots():
            self._writers.add(asyncio.create_task(self._drain(), name="webhook-inbox-writer"))
        return await answer

    def _write_slots(self) -> int:
        """Statements in flight at once. PostgreSQL: two, so one batch collects while the
        other commits. SQLite has one connection and one writer: a second statement would
        only queue behind the first with a smaller batch."""
        dialect = get_connection(self.connection_name).capabilities.dialect
        return 2 if dialect == "postgres" else 1

    async def _drain(self) -> None:
        """Write what is pending, batch after batch, until nothing is."""
        batch: list[_Waiting] = []
        try:
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._write(batch)
                batch = []
        except BaseException as exc:  # cancelled at shutdown: nobody is left hanging
            for waiting in [*batch, *self._pending]:
                if not waiting.answer.done():
                    waiting.answer.set_exception(exc)
            self._pending.clear()
            raise
        finally:
            # Now, not in a done callback: a delivery queued after this writer's last look
            # at ``_pending`` must find the slot free and start a writer of its own.
            self._writers.discard(asyncio.current_task())

    async def _write(self, batch: list[_Waiting]) -> None:
        # The first copy of each event is written; copies later in the batch are duplicates.
        first: dict[Key, list[Any]] = {}
        for waiting in batch:
            first.setdefault(waiting.key, waiting.values)
        outcomes: dict[Key, bool | Exception]
        try:
            inserted = await self._insert(list(first.values()))
        except Exception as exc:  # noqa: BLE001 - each request gets its own outcome
            if len(first) == 1:
                outcomes = dict.fromkeys(first, exc)
            else:
                outcomes = await self._insert_singly(first)
        else:
            outcomes = {key: key in inserted for key in first}
        _answer(batch, outcomes)

    async def _insert_singly(self, rows: dict[Key, list[Any]]) -> dict[Key, bool | Exception]:
        """After a failed batch: each row alone, so one bad row fails only its request."""
        outcomes: dict[Key, bool | Exception] = {}
        for key, values in rows.items():
            try:
                outcomes[key] = key in await self._insert([values])
            except Exception as exc:  # noqa: BLE001 - this request's own failure
                outcomes[key] = exc
        return outcomes

    async def _insert(self, rows: list[list[Any]]) -> set[Key]:
        """One statement for ``rows`` (distinct keys); the keys it inserted."""
        connection: BaseDBAsyncClient = get_connection(self.connection_name)
        dialect = connection.capabilities.dialect
        sql = self._sql.get((dialect, len(rows)))
        if sql is None:
            sql = self._sql[(dialect, len(rows))] = _insert_sql(dialect, len(rows))
        params = [value for row in rows for value in row]
        if dialect == "sqlite":
            return await _insert_sqlite(connection, sql, params)
        # execute_query_dict: Tortoise's execute_query drops an INSERT's RETURNING rows on
        # PostgreSQL (it only counts them).
        found = await connection.execute_query_dict(sql, params)
        return {(row["provider"], row["event_id"]) for row in found}


async def _insert_sqlite(connection: BaseDBAsyncClient, sql: str, params: list[Any]) -> set[Key]:
    """The INSERT on SQLite, retried every millisecond while another process writes.

    Tortoise's lock on the connection is held throughout, so the busy timeout switched off
    here applies to this statement only.
    """
    loop = asyncio.get_running_loop()
    async with connection.acquire_connection() as raw:
        cursor = await raw.execute("PRAGMA busy_timeout")
        (busy_timeout,) = await cursor.fetchone()
        await raw.execute("PRAGMA busy_timeout = 0")
        try:
            deadline = loop.time() + LOCKED_RETRY_SECONDS
            while True:
                try:
                    cursor = await raw.execute(sql, params)
                    return {(provider, event_id) for provider, event_id in await cursor.fetchall()}
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc) or loop.time() > deadline:
                        raise OperationalError(exc) from exc  # what Tortoise would raise
                await asyncio.sleep(LOCKED_RETRY_EVERY)
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(exc) from exc
        finally:
            await raw.execute(f"PRAGMA busy_timeout = {int(busy_timeout)}")


def _answer(batch: list[_Waiting], outcomes: dict[Key, bool | Exception]) -> None:
    """Each waiting request's outcome; only the first copy of an event can be "stored"."""
    answered: set[Key] = set()
    for waiting in batch:
        outcome = outcomes[waiting.key]
        if waiting.answer.done():  # the request went away (client disconnected)
            pass
        elif isinstance(outcome, Exception):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome and waiting.key not in answered)
        answered.add(waiting.key)
