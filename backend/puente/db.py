"""Database wiring: the Tortoise configuration, start-up and migrations."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connection
from tortoise.exceptions import DBConnectionError, OperationalError, TransactionManagementError

__all__ = [
    "STORAGE_ERRORS",
    "MODEL_MODULES",
    "database_answers",
    "is_postgres",
    "migrate",
    "open_database",
    "tortoise_config",
]

MODEL_MODULES = [
    "puente.institutions.models",
    "puente.accounts.models",
    "puente.loans.models",
    "puente.payments.models",
    "puente.webhooks.models",
    "puente.audit.models",
    "puente.ledger.models",
    "puente.scheduling.models",
    "puente.compliance.models",
    "puente.reconciliation.models",
    "puente.collections.models",
    "puente.notifications.models",
    "puente.invoicing.models",
    "puente.cep.models",
]


def _normalise_url(url: str) -> str:
    # The contract spells PostgreSQL as postgres://; Tortoise wants asyncpg:// for asyncpg.
    if url.startswith(("postgres://", "postgresql://")):
        return "asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and url not in ("sqlite://:memory:",):
        path = url.removeprefix("sqlite://")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return url


async def keep_session(connection: Any) -> None:
    """The pool's reset on release: nothing beyond asyncpg's rollback of an open transaction.

    asyncpg's default sends ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release, a round trip per pooled statement (about 40 per
    domiciliación charge, bench/collections.py). Puente keeps no session state to undo: no
    session advisory locks, LISTEN, held cursors or session ``SET`` (only ``SET TRANSACTION``,
    which ends with its transaction). A new use of any of those must undo it itself.
    """


def is_postgres(url: str) -> bool:
    return _normalise_url(url).startswith("asyncpg://")


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The one Tortoise config dict (also used by the migration commands)."""
    url = _normalise_url(database_url)
    connection: str | dict[str, Any] = url
    if url.startswith("asyncpg://"):
        connection = expand_db_url(url)
        connection["credentials"]["reset"] = keep_session
    elif url.startswith("sqlite://"):
        # Transactions take the write lock up front: several processes may share the file
        # (``puente serve`` and its webhook worker), see ``puente.db_sqlite``.
        connection = expand_db_url(url)
        connection["engine"] = "puente.db_sqlite"
    return {
        "connections": {"default": connection},
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "default_connection": "default",
                "migrations": "puente.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def migrate(database_url: str) -> None:
    """Apply every committed migration to the database (idempotent)."""
    from tortoise.migrations.api import migrate as run_migrations

    try:
        await run_migrations(config=tortoise_config(database_url))
    finally:
        await Tortoise.close_connections()


@asynccontextmanager
async def open_database(database_url: str) -> AsyncIterator[None]:
    """Connect for the life of a process (server, CLI command); closes on exit."""
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)
    try:
        yield
    finally:
        await Tortoise.close_connections()


# What a database outage looks like from a query: the driver cannot connect (OSError from the
# socket), the server refuses or drops the session (asyncpg's server errors: shutting down,
# not accepting connections, connection terminated) or Tortoise reports the failed statement.
STORAGE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    DBConnectionError,
    TransactionManagementError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


async def database_answers() -> bool:
    """True when the default database answers a trivial query (for /readyz)."""
    try:
        await get_connection("default").execute_query("SELECT 1")
    except Exception:
        return False
    return True
