"""Migration 0019_audit_chains: the log written as one chain stays provable, and new
entries go on per-institution chains after it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, _pg_admin, _pg_url
from tortoise import Tortoise
from tortoise.backends.base.executor import EXECUTOR_CACHE
from tortoise.connection import get_connection
from tortoise.migrations.api import migrate as run_migrations

from puente.audit.models import AuditChainHead, AuditEvent
from puente.audit.service import _entry, record_audit, verify_audit_log
from puente.db import migrate, tortoise_config
from puente.security.audit import GENESIS_HASH, chain_hash

pytestmark = pytest.mark.anyio

BEFORE = "models.0018_readmodel"
AT = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'legacy.sqlite3'}"
        return
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("PUENTE_TEST_POSTGRES_URL is not set (PUENTE_REQUIRE_POSTGRES=1)")
        pytest.skip("PUENTE_TEST_POSTGRES_URL is not set")
    name = f"puente_test_{uuid.uuid4().hex[:12]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        await Tortoise.close_connections()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _write_single_chain_log(url: str) -> str:
    """Three entries (two institutions and the system) as the code before 0019 wrote them."""
    await Tortoise.init(config=tortoise_config(url))
    conn = get_connection("default")
    postgres = conn.capabilities.dialect == "postgres"
    prev = GENESIS_HASH
    for seq, institution_id in ((1, 7), (2, None), (3, 8)):
        at = AT + timedelta(seconds=seq)
        entry = _entry(seq, at, institution_id, None, "legacy.event", "thing", "1", {"n": seq})
        digest = chain_hash(prev, entry)
        marks = ", ".join(f"${n}" if postgres else "?" for n in range(1, 10))
        await conn.execute_query(
            "INSERT INTO audit_events (seq, occurred_at, institution_id, action, subject_type, "
            f"subject_id, data, prev_hash, hash) VALUES ({marks})",
            [
                seq,
                at if postgres else at.isoformat(sep=" ", timespec="microseconds"),
                institution_id,
                "legacy.event",
                "thing",
                "1",
                json.dumps({"n": seq}),
                prev,
                digest,
            ],
        )
        prev = digest
    marks = ", ".join(f"${n}" if postgres else "?" for n in range(1, 4))
    await conn.execute_query(
        f"INSERT INTO audit_chain_head (id, seq, hash) VALUES ({marks})", [1, 3, prev]
    )
    await Tortoise.close_connections()
    return prev


async def test_the_single_chain_log_stays_provable_and_new_chains_start_after_it(unmigrated_url):
    EXECUTOR_CACHE.clear()
    await run_migrations(config=tortoise_config(unmigrated_url), target=BEFORE)
    await Tortoise.close_connections()
    legacy_hash = await _write_single_chain_log(unmigrated_url)
    await migrate(unmigrated_url)
    EXECUTOR_CACHE.clear()
    await Tortoise.init(config=tortoise_config(unmigrated_url), _enable_global_fallback=True)
    try:
        report, heads = await verify_audit_log()
        assert report.ok and report.checked == 3 and heads == 3
        assert set(await AuditEvent.all().values_list("chain_id", flat=True)) == {1}
        await record_audit("new.event", institution_id=7, data={"n": 4})
        await record_audit("new.event", data={"n": 5})
        report, heads = await verify_audit_log()
        assert report.ok and report.checked == 5 and heads == 5
        system = await AuditChainHead.get(id=1)
        assert system.institution_id is None and system.seq == 4
        newest_system = await AuditEvent.get(chain_id=1, seq=4)
        assert newest_system.prev_hash == legacy_hash  # the legacy chain goes on
        own = await AuditChainHead.get(institution_id=7)
        assert own.id != 1 and own.seq == 1
        assert (await AuditEvent.get(chain_id=own.id)).prev_hash == GENESIS_HASH
        await AuditEvent.filter(chain_id=1, seq=2).update(action="forged")
        report, _ = await verify_audit_log()
        assert not report.ok and report.first_bad_seq == 2 and "system chain" in report.reason
    finally:
        await Tortoise.close_connections()
