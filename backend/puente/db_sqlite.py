"""Tortoise's SQLite engine with write transactions that take SQLite's write lock first.

Tortoise opens a transaction with a plain ``BEGIN`` (deferred): it reads from a snapshot
and asks for the write lock at its first write. With one process that never matters (one
connection, and Tortoise lets one transaction use it at a time). With two processes on
one file (``puente serve`` and its webhook worker, or a ``puente jobs`` run beside the
server), a deferred transaction that read before another process committed cannot write
any more: SQLite refuses at once (``SQLITE_BUSY_SNAPSHOT``, "database is locked") without
waiting. ``BEGIN IMMEDIATE`` takes the write lock up front, waiting for it (the busy
timeout) if another process holds it, so such a transaction never fails half-way.
"""

from __future__ import annotations

import sqlite3

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.exceptions import TransactionManagementError

__all__ = ["ImmediateSqliteClient", "client_class"]


class _ImmediateTransaction(SqliteTransactionWrapper):
    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class ImmediateSqliteClient(SqliteClient):
    """``SqliteClient`` whose transactions begin with ``BEGIN IMMEDIATE``."""

    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(_ImmediateTransaction(self), self._lock)


client_class = ImmediateSqliteClient  # what Tortoise looks for in an engine module
