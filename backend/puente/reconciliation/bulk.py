"""Many rows into one table at once, without building a model per row.

A million-line statement stores a million lines and (mostly) a million matches; building a
Tortoise model for each costs more than the parse of the file. ``insert_rows`` writes plain
tuples: on PostgreSQL (asyncpg) with ``COPY`` (``copy_records_to_table``), elsewhere with one
``executemany``. Values go in as the database takes them (an enum as its value, a date as a
date); no defaults are filled in, so callers name every column they need.

``insert_new`` stores the rows a unique key does not already know and says which were new:
on PostgreSQL one ``INSERT ... SELECT FROM unnest(...) ON CONFLICT DO NOTHING RETURNING``
(the unique index decides, row by row, however stale the planner's statistics are inside a
long import; a ``WHERE key IN (...)`` lookup there degrades into a scan of every line the
institution has), elsewhere a lookup of the keys and ``insert_rows``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

__all__ = ["insert_new", "insert_rows", "set_status"]


async def insert_rows(
    model: type[Model], columns: Sequence[str], rows: list[tuple[Any, ...]], conn: BaseDBAsyncClient
) -> None:
    """Insert ``rows`` (tuples in the order of ``columns``) into ``model``'s table."""
    if not rows:
        return
    table = model._meta.db_table
    async with conn.acquire_connection() as connection:
        copy = getattr(connection, "copy_records_to_table", None)
        if copy is not None:  # asyncpg: COPY, one round trip for the whole batch
            try:
                await copy(table, records=rows, columns=list(columns))
            except Exception as exc:
                if type(exc).__name__ == "UniqueViolationError":
                    raise IntegrityError(str(exc)) from exc
                raise
            return
    if conn.capabilities.dialect == "postgres":
        marks = ", ".join(f"${i}" for i in range(1, len(columns) + 1))
    else:
        marks = ", ".join("?" * len(columns))
    names = ", ".join(f'"{name}"' for name in columns)
    query = f'INSERT INTO "{table}" ({names}) VALUES ({marks})'
    await conn.execute_many(query, [list(row) for row in rows])


async def insert_new(
    model: type[Model],
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    conn: BaseDBAsyncClient,
    *,
    unique: tuple[str, str],
) -> set[Any]:
    """Insert the ``rows`` whose ``unique`` pair (a scope column and a key column, a unique
    constraint of the table) is not stored yet; the keys of those inserted."""
    if not rows:
        return set()
    scope, key = unique
    at = columns.index(key)
    async with conn.acquire_connection() as connection:
        if hasattr(connection, "copy_records_to_table"):  # asyncpg
            fields = model._meta.fields_map
            arrays = ", ".join(
                f"${i}::{fields[name].get_for_dialect('postgres', 'SQL_TYPE')}[]"
                for i, name in enumerate(columns, start=1)
            )
            names = ", ".join(f'"{name}"' for name in columns)
            query = (
                f'INSERT INTO "{model._meta.db_table}" ({names}) SELECT * FROM unnest({arrays}) '
                f'ON CONFLICT ("{scope}", "{key}") DO NOTHING RETURNING "{key}"'
            )
            arguments = [list(column) for column in zip(*rows, strict=True)]
            found = await connection.fetch(query, *arguments)
            return {record[0] for record in found}
    known: set[Any] = set()
    for scoped in {row[columns.index(scope)] for row in rows}:
        keys = [row[at] for row in rows if row[columns.index(scope)] == scoped]
        known.update(
            await model.filter(**{scope: scoped, f"{key}__in": keys})
            .using_db(conn)
            .values_list(key, flat=True)
        )
    new = [row for row in rows if row[at] not in known]
    await insert_rows(model, columns, new, conn)
    return {row[at] for row in new}


async def set_status(
    model: type[Model], ids: Sequence[int], status: str, conn: BaseDBAsyncClient
) -> None:
    """``status`` on the rows ``ids``: on PostgreSQL one ``UPDATE ... WHERE id = ANY($2)``
    (one array parameter, nothing for the query builder to spell out id by id)."""
    if not ids:
        return
    async with conn.acquire_connection() as connection:
        if hasattr(connection, "copy_records_to_table"):  # asyncpg
            await connection.execute(
                f'UPDATE "{model._meta.db_table}" SET "status" = $1 WHERE "id" = ANY($2::bigint[])',
                status,
                list(ids),
            )
            return
    await model.filter(id__in=list(ids)).using_db(conn).update(status=status)
