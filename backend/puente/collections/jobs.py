"""The scheduled-charge job under a lease: one replica runs it, any replica may resume it.

``puente jobs daily`` runs it after the loans' daily work; ``puente serve`` runs it in a
background loop every few minutes, so attempts left waiting on a provider are asked again
soon. The lease is per day (``domiciliacion``, date): two replicas never charge the same
day's attempts at once, and a replica that died mid-run is taken over once its lease
lapses; the attempt rows and idempotency keys make the takeover resume, not re-charge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta

from puente.collections.charges import ChargeReport, Shard, run_scheduled_charges
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime, utcnow
from puente.scheduling.leases import acquire_lease

__all__ = ["COLLECTIONS_JOB", "collect_forever", "lease_key", "run_collections_once"]

log = logging.getLogger("puente.collections")

COLLECTIONS_JOB = "domiciliacion"
LEASE_TTL = timedelta(minutes=10)


async def run_collections_once(
    runtime: Runtime,
    gateways: GatewayDirectory,
    day: date,
    *,
    clock: Callable[[], datetime] = utcnow,
    concurrency: int = 1,
    shard: Shard = Shard(),
) -> ChargeReport | None:
    """Run the day's charges unless another process holds the day's lease (then None).
    With ``shard`` (one of N processes), only its loans, under the lease of that shard."""
    lease = await acquire_lease(COLLECTIONS_JOB, lease_key(day, shard), clock(), ttl=LEASE_TTL)
    if lease is None:
        return None
    try:
        report = await run_scheduled_charges(
            runtime,
            gateways,
            day,
            renew=lambda: lease.renew(clock()),
            concurrency=concurrency,
            shard=shard,
        )
    except BaseException as exc:
        await lease.finish(clock(), succeeded=False, detail=type(exc).__name__)
        raise
    await lease.finish(clock(), succeeded=not report.failures, detail=report.summary())
    log.info("%s %s", day.isoformat(), report.summary())
    return report


def lease_key(day: date, shard: Shard = Shard()) -> str:
    """The run key of a day's charges (``2026-10-15``), or of one shard of them
    (``2026-10-15#1/2``): each shard is one run of ``job_runs``, held by one process."""
    return day.isoformat() if shard.count == 1 else f"{day.isoformat()}#{shard}"


async def collect_forever(
    runtime: Runtime, gateways: GatewayDirectory, stop: asyncio.Event, every: float = 300.0
) -> None:
    """``puente serve``'s loop: today's charges every ``every`` seconds, under the lease."""
    while not stop.is_set():
        try:
            await run_collections_once(runtime, gateways, runtime.today(), clock=runtime.now)
        except Exception:  # noqa: BLE001 - keep collecting after a bad moment
            log.exception("domiciliación pass failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)
