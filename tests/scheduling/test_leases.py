"""Leases on job runs: one holder at a time, taken over when the holder dies."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from tests.support.http import app_client
from tests.support.metrics import authorise_scraper, sample_value, scrape

from puente.loans.jobs import run_daily_once
from puente.scheduling.leases import LeaseLost, acquire_lease
from puente.scheduling.models import JobRun, JobRunStatus

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
TTL = timedelta(minutes=10)


async def test_a_held_run_is_refused_to_a_second_holder(db):
    first = await acquire_lease("daily", "2026-12-01", NOW, ttl=TTL, holder="a")
    second = await acquire_lease("daily", "2026-12-01", NOW, ttl=TTL, holder="b")
    other_day = await acquire_lease("daily", "2026-12-02", NOW, ttl=TTL, holder="b")
    assert first is not None and second is None and other_day is not None


async def test_racing_replicas_get_exactly_one_lease(db):
    leases = await asyncio.gather(
        *(acquire_lease("daily", "2026-12-01", NOW, ttl=TTL, holder=f"h{n}") for n in range(6))
    )
    assert sum(lease is not None for lease in leases) == 1
    assert await JobRun.filter(job="daily").count() == 1


async def test_a_dead_holders_run_is_taken_over_after_its_lease_lapses(db):
    dead = await acquire_lease("daily", "2026-12-01", NOW, ttl=TTL, holder="dead")
    assert dead is not None
    assert await acquire_lease("daily", "2026-12-01", NOW + TTL / 2, ttl=TTL, holder="b") is None
    later = NOW + TTL + timedelta(seconds=1)
    heir = await acquire_lease("daily", "2026-12-01", later, ttl=TTL, holder="b")
    assert heir is not None
    with pytest.raises(LeaseLost):
        await dead.renew(later)  # the old holder learns it must stop
    run = await JobRun.get(job="daily", run_key="2026-12-01")
    assert run.holder == "b" and run.attempts == 2


async def test_renewing_keeps_the_run_and_a_finished_run_may_run_again(db):
    lease = await acquire_lease("daily", "2026-12-01", NOW, ttl=TTL, holder="a")
    assert lease is not None
    await lease.renew(NOW + timedelta(minutes=9))
    assert await acquire_lease("daily", "2026-12-01", NOW + TTL, ttl=TTL, holder="b") is None
    await lease.finish(NOW + TTL, succeeded=True, detail="ok")
    assert (await JobRun.get(id=lease.run_id)).status is JobRunStatus.SUCCEEDED
    again = await acquire_lease("daily", "2026-12-01", NOW + TTL, ttl=TTL, holder="b")
    assert again is not None


async def test_the_daily_job_runs_once_while_another_process_holds_it(db, runtime):
    day = NOW.date()
    held = await acquire_lease("daily", day.isoformat(), NOW, ttl=TTL, holder="other-replica")
    assert held is not None
    assert await run_daily_once(day, clock=lambda: NOW) is None
    await held.finish(NOW, succeeded=True)
    report = await run_daily_once(day, clock=lambda: NOW + timedelta(minutes=1))
    assert report is not None and report.failures == []
    run = await JobRun.get(job="daily", run_key=day.isoformat())
    assert run.status is JobRunStatus.SUCCEEDED and run.holder != "other-replica"
    authorise_scraper(runtime)
    async with app_client(runtime, run_workers=False) as client:
        text = await scrape(client)
    last = sample_value(
        text, "puente_job_last_run_timestamp_seconds", job="daily", outcome="succeeded"
    )
    assert last == (NOW + timedelta(minutes=1)).timestamp()
