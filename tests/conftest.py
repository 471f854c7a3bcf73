"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``PUENTE_TEST_POSTGRES_URL`` (an admin URL such as
``postgres://postgres@127.0.0.1:5432/postgres``); the suite creates a throwaway database,
migrates it, truncates between tests and drops it at the end. Without the variable the
PostgreSQL half is skipped with a reason, unless ``PUENTE_REQUIRE_POSTGRES=1`` (CI), where a
missing server is an error.
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection

from puente.config import Settings, parse_encryption_keys
from puente.db import migrate, tortoise_config
from puente.runtime import Runtime
from puente.security.passwords import FAST_TEST_POLICY

# In CI the property tests draw the same examples every run: a red build is then always a
# real regression (a new counterexample is found locally, where examples are random). Speed
# is not what these tests judge: a loaded machine must not fail them on Hypothesis's clocks.
hypothesis_settings.register_profile(
    "ci",
    derandomize=True,
    print_blob=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

POSTGRES_URL = os.environ.get("PUENTE_TEST_POSTGRES_URL", "")
REQUIRE_POSTGRES = os.environ.get("PUENTE_REQUIRE_POSTGRES") == "1"
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _key() -> str:
    return "t1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def make_settings(database_url: str = "sqlite://:memory:", **changes: object) -> Settings:
    settings = Settings(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        encryption_keys=parse_encryption_keys(_key()),
        cookie_secure=False,
    )
    return settings.with_overrides(**changes)


@dataclass
class Clock:
    """A settable clock for services (tests move time instead of sleeping)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))


@pytest.fixture
def runtime(clock: Clock, database_url: str) -> Runtime:
    return Runtime.from_settings(
        make_settings(database_url), password_policy=FAST_TEST_POLICY, clock=clock
    )


# -- database templates ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (fast, and migrations are exercised)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    asyncio.run(migrate(f"sqlite://{path}"))
    return path


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{database}"


async def _pg_admin(sql: str) -> None:
    import asyncpg

    dsn = POSTGRES_URL.replace("asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A migrated throwaway PostgreSQL database for the session; dropped at the end."""
    yield from _throwaway_postgres("puente_test")


@pytest.fixture(params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """A clean, migrated database URL for one test, on each backend."""
    if request.param == "sqlite":
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite://{path}"
        return
    if request.param == PRIVATE_POSTGRES:
        yield from _throwaway_postgres("puente_private")
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    asyncio.run(_truncate_postgres(url))


# A test that starts `puente serve` processes gives them a database of their own: a server
# slow to stop (or never stopped) then cannot claim or lock rows of the tests that follow
# (it once leased an inbox event of a later test on the shared database). Dropped WITH
# (FORCE), which also ends any connection a straggler still holds.
PRIVATE_POSTGRES = "postgres-private"


def _throwaway_postgres(prefix: str) -> Iterator[str]:
    """A new migrated PostgreSQL database, dropped WITH (FORCE) when the caller is done."""
    if not POSTGRES_URL:
        message = "PUENTE_TEST_POSTGRES_URL is not set: PostgreSQL half of the suite not run"
        if REQUIRE_POSTGRES:
            pytest.fail(message + " (PUENTE_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = _pg_url(name)
    try:
        asyncio.run(migrate(url))
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Every table but the migration recorder's: a table a new migration adds is cleaned too.
_TABLES_SQL = (
    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
    "AND tablename <> 'tortoise_migrations'"
)


async def _init(url: str) -> None:
    # Tortoise caches compiled INSERTs per connection *name*; tests switch dialects under the
    # same name ("default"), so the cache must not outlive one database.
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def _truncate_postgres(url: str) -> None:
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(url))
    try:
        connection = get_connection("default")
        _, rows = await connection.execute_query(_TABLES_SQL)
        tables = ", ".join(f'"{row["tablename"]}"' for row in rows)
        # TRUNCATE does not fire the ledger's row-level append-only triggers.
        await connection.execute_script(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    finally:
        await Tortoise.close_connections()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """Tortoise connected to a clean database for this test (in the test's event loop).

    After the test, the ledger's read model must equal the sums of the postings: every
    test that posts entries also checks the running balances (``check_balances``).
    """
    await _init(database_url)
    try:
        yield "postgres" if database_url.startswith(("postgres", "asyncpg")) else "sqlite"
        await _assert_balances_match_postings()
    finally:
        await Tortoise.close_connections()


async def _assert_balances_match_postings() -> None:
    from tortoise.exceptions import ConfigurationError

    from puente.ledger.balances import check_balances

    try:
        drift = await check_balances()
    except ConfigurationError:
        return  # the test took the database away itself (``/readyz`` without a database)
    if drift:
        pytest.fail("ledger read model drifted from the postings:\n" + "\n".join(map(str, drift)))


@pytest.fixture
async def monitoring_drained(db: str) -> AsyncIterator[None]:
    """AML monitoring of the payments a test recorded (it runs in background tasks after the
    funnel commits) finishes before the test's database closes."""
    from puente.compliance.monitoring_service import drain_monitoring

    yield
    await drain_monitoring()
