"""Storing received events in group commits: one INSERT for the deliveries that arrive together.

A provider is answered 2xx only once its event is durably stored, and a commit (an fsync on
SQLite, a WAL flush on PostgreSQL) per delivery caps how many a process can acknowledge. So
the deliveries that arrive while one write is under way wait for the next one and are
written together, in one statement (one transaction), with no Tortoise model built for them:

    request ─┐                      ┌─ INSERT … VALUES (…), (…), (…)
    request ─┼─► pending ──drain──► │  ON CONFLICT (provider, event_id) DO NOTHING
    request ─┘                      └─ RETURNING provider, event_id ──► each request answered

- A request is answered after the statement holding its row returned, i.e. committed: never
  an acknowledgement for a row that is not stored.
- Dedupe stays exact: the unique (provider, event_id) decides, also between processes. The
  same event twice in one batch is written once; the later copies are told "duplicate".
- A batch that fails is retried one row at a time, so a bad row fails only its own request
  and a database outage fails each request with its own error (a 503 at the door).
- Nothing waits on a timer: a lone delivery is written at once; batches grow only while the
  database is busy, which is when they pay.
"""

from __future__ import annotations

import asyncio
from dataclasses import astuple, dataclass, fields
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection

from puente.enums import ProviderEventStatus
from puente.webhooks.models import ProviderEvent

__all__ = ["MAX_BATCH", "InboxWriter", "ReceivedEvent"]

# Rows per statement: 15 parameters each stays far under SQLite's and PostgreSQL's limits
# (32,766 and 32,767 parameters), and a batch this size already amortises the commit.
MAX_BATCH = 256


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
    def key(self) -> tuple[str, str]:
        """What the inbox deduplicates on."""
        return (self.provider, self.event_id)


_COLUMNS = tuple(f.name for f in fields(ReceivedEvent))
# Columns whose value is the same for every new row (the model's defaults).
_CONSTANT = {"attempts": "0", "last_error": "NULL", "next_attempt_at": "NULL"}


def _db_values(event: ReceivedEvent) -> list[Any]:
    """The row's values as Tortoise would write them (enum values, JSON text, datetimes)."""
    fields_map = ProviderEvent._meta.fields_map
    return [
        fields_map[name].to_db_value(value, ProviderEvent)
        for name, value in zip(_COLUMNS, astuple(event), strict=True)
    ]


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
    event: ReceivedEvent
    answer: asyncio.Future[bool]


class InboxWriter:
    """Writes received events for one process; ``store`` returns once the row is durable."""

    def __init__(self, connection_name: str = "default", max_batch: int = MAX_BATCH) -> None:
        self.connection_name = connection_name
        self.max_batch = max_batch
        self._pending: list[_Waiting] = []
        self._drainer: asyncio.Task[None] | None = None
        self._sql: dict[tuple[str, int], str] = {}

    async def store(self, event: ReceivedEvent) -> bool:
        """True once ``event`` is stored; False when it was stored already (a duplicate).

        Raises what the database raised when this event could not be stored.
        """
        answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(_Waiting(event, answer))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain(), name="webhook-inbox-writer")
        return await answer

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
            self._drainer = None

    async def _write(self, batch: list[_Waiting]) -> None:
        # The first copy of each event is written; copies later in the batch are duplicates.
        first: dict[tuple[str, str], ReceivedEvent] = {}
        for waiting in batch:
            first.setdefault(waiting.event.key, waiting.event)
        events = list(first.values())
        outcomes: dict[tuple[str, str], bool | Exception]
        try:
            inserted = await self._insert(events)
        except Exception as exc:  # noqa: BLE001 - each request gets its own outcome
            if len(events) == 1:
                outcomes = {events[0].key: exc}
            else:
                outcomes = await self._insert_singly(events)
        else:
            outcomes = {key: key in inserted for key in first}
        _answer(batch, outcomes)

    async def _insert_singly(
        self, events: list[ReceivedEvent]
    ) -> dict[tuple[str, str], bool | Exception]:
        """After a failed batch: each row alone, so one bad row fails only its request."""
        outcomes: dict[tuple[str, str], bool | Exception] = {}
        for event in events:
            try:
                outcomes[event.key] = event.key in await self._insert([event])
            except Exception as exc:  # noqa: BLE001 - this request's own failure
                outcomes[event.key] = exc
        return outcomes

    async def _insert(self, events: list[ReceivedEvent]) -> set[tuple[str, str]]:
        """One statement for ``events`` (distinct keys); the keys it inserted."""
        connection: BaseDBAsyncClient = get_connection(self.connection_name)
        dialect = connection.capabilities.dialect
        sql = self._sql.get((dialect, len(events)))
        if sql is None:
            sql = self._sql[(dialect, len(events))] = _insert_sql(dialect, len(events))
        values = [value for event in events for value in _db_values(event)]
        _, rows = await connection.execute_query(sql, values)
        return {(row["provider"], row["event_id"]) for row in rows}


def _answer(batch: list[_Waiting], outcomes: dict[tuple[str, str], bool | Exception]) -> None:
    """Each waiting request's outcome; only the first copy of an event can be "stored"."""
    answered: set[tuple[str, str]] = set()
    for waiting in batch:
        key = waiting.event.key
        outcome = outcomes[key]
        if waiting.answer.done():  # the request went away (client disconnected)
            pass
        elif isinstance(outcome, Exception):
            waiting.answer.set_exception(outcome)
        else:
            waiting.answer.set_result(outcome and key not in answered)
        answered.add(key)
