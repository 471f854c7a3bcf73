"""``puente jobs daily [--date YYYY-MM-DD] [--workers N]``: the day's jobs, each under its
own lease; ``puente jobs charges [--date] [--workers N | --shard K/N]``: the charges alone.

First the loans' daily work (``loans.jobs``: billing, advances, moratorium), then the
scheduled domiciliación charges (``collections.jobs``). Both are idempotent: a second run
for the same date does nothing more. With ``--workers N`` the charges run in N processes,
one shard of the loans each (``collections.charges.Shard``), each under its own lease.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date

from puente.collections.charges import Shard
from puente.collections.jobs import run_collections_once
from puente.config import ConfigError, Settings, load_settings
from puente.db import open_database
from puente.loans.jobs import DailyReport, run_daily_once
from puente.observability.logs import configure_logging
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime, mexico_city_date, utcnow

__all__ = ["cmd_charges", "cmd_daily"]

# Charges in flight at once within one process (PostgreSQL; SQLite has one writer).
POSTGRES_CONCURRENCY = 8


def cmd_daily(args: argparse.Namespace) -> int:
    """``puente jobs daily [--date YYYY-MM-DD]`` (default: today in Mexico City)."""
    try:
        day = date.fromisoformat(args.date) if args.date else mexico_city_date(utcnow())
    except ValueError:
        print(f"puente jobs daily: --date must be YYYY-MM-DD, got {args.date!r}", file=sys.stderr)
        return 2
    settings = load_settings()

    configure_logging(fmt=settings.log_format or "console", level=settings.log_level)

    async def run() -> tuple[DailyReport | None, str]:
        async with open_database(settings.database_url):
            report = await run_daily_once(day, settings=settings)
            if getattr(args, "workers", 1) > 1:
                return report, ""
            return report, await _scheduled_charges(settings, day)

    report, charges = asyncio.run(run())
    if getattr(args, "workers", 1) > 1:
        charges = asyncio.run(_sharded_charges(day, args.workers))
    if report is None:
        print(f"{day.isoformat()}: the daily job is running in another process; nothing done")
    else:
        print(report.summary())
        for loan_id, error in report.failures:
            print(f"  loan {loan_id}: {error}", file=sys.stderr)
    print(charges)
    return 1 if report is not None and report.failures else 0


def cmd_charges(args: argparse.Namespace) -> int:
    """``puente jobs charges [--date] [--workers N | --shard K/N]``: the domiciliación
    charges alone (the loans' daily work not run): in this process, in N processes, or one
    shard of N (what each of those processes runs)."""
    try:
        day = date.fromisoformat(args.date) if args.date else mexico_city_date(utcnow())
        shard = Shard.parse(args.shard) if args.shard else Shard()
    except ValueError as exc:
        print(f"puente jobs charges: {exc}", file=sys.stderr)
        return 2
    if args.workers < 1:
        print("puente jobs charges: --workers must be at least 1", file=sys.stderr)
        return 2
    settings = load_settings()
    configure_logging(fmt=settings.log_format or "console", level=settings.log_level)
    if args.workers > 1 and not args.shard:
        summary = asyncio.run(_sharded_charges(day, args.workers))
        print(summary)
        return 1 if "exited" in summary else 0

    async def run() -> str:
        async with open_database(settings.database_url):
            return await _scheduled_charges(settings, day, shard)

    print(asyncio.run(run()))
    return 0


async def _scheduled_charges(settings: Settings, day: date, shard: Shard = Shard()) -> str:
    """The day's domiciliación charges (of ``shard``), under their own lease (they need the
    secrets to read the institutions' provider credentials)."""
    try:
        runtime = Runtime.from_settings(settings)
    except ConfigError as exc:
        return f"{day.isoformat()}: domiciliación not run ({exc})"
    gateways = GatewayDirectory(runtime)
    postgres = settings.database_url.startswith(("postgres", "asyncpg"))
    try:
        charges = await run_collections_once(
            runtime,
            gateways,
            day,
            concurrency=POSTGRES_CONCURRENCY if postgres else 1,
            shard=shard,
        )
    finally:
        await gateways.aclose()
    name = day.isoformat() if shard.count == 1 else f"{day.isoformat()} shard {shard}"
    if charges is None:
        return f"{name}: domiciliación is running in another process"
    return f"{name}: {charges.summary()}"


async def _sharded_charges(day: date, workers: int) -> str:
    """Run the day's charges in ``workers`` processes (``puente jobs charges --shard k/N``),
    side by side; their summaries, one line each. A shard that fails (or whose process
    dies) is resumed by the next run: its attempts and idempotency keys make that safe."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from puente.cli import main; raise SystemExit(main())",
            "jobs",
            "charges",
            "--date",
            day.isoformat(),
            "--shard",
            f"{k + 1}/{workers}",
            stdout=asyncio.subprocess.PIPE,
        )
        for k in range(workers)
    ]
    lines = []
    for k, process in enumerate(processes):
        out, _ = await process.communicate()
        text = out.decode().strip().splitlines()
        if process.returncode != 0 or not text:
            lines.append(f"shard {k + 1}/{workers}: exited {process.returncode}")
        else:
            lines.append(text[-1])
    return "\n".join(lines)
