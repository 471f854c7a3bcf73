"""``puente jobs daily [--date YYYY-MM-DD]``: the day's jobs, each under its own lease.

First the loans' daily work (``loans.jobs``: billing, advances, moratorium), then the
scheduled domiciliación charges (``collections.jobs``). Both are idempotent: a second run
for the same date does nothing more.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date

from puente.collections.jobs import run_collections_once
from puente.config import ConfigError, Settings, load_settings
from puente.db import open_database
from puente.loans.jobs import DailyReport, run_daily_once
from puente.observability.logs import configure_logging
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime, mexico_city_date, utcnow

__all__ = ["cmd_daily"]


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
            return report, await _scheduled_charges(settings, day)

    report, charges = asyncio.run(run())
    if report is None:
        print(f"{day.isoformat()}: the daily job is running in another process; nothing done")
    else:
        print(report.summary())
        for loan_id, error in report.failures:
            print(f"  loan {loan_id}: {error}", file=sys.stderr)
    print(charges)
    return 1 if report is not None and report.failures else 0


async def _scheduled_charges(settings: Settings, day: date) -> str:
    """The day's domiciliación charges, under their own lease (they need the secrets to
    read the institutions' provider credentials)."""
    try:
        runtime = Runtime.from_settings(settings)
    except ConfigError as exc:
        return f"{day.isoformat()}: domiciliación not run ({exc})"
    gateways = GatewayDirectory(runtime)
    try:
        charges = await run_collections_once(runtime, gateways, day)
    finally:
        await gateways.aclose()
    if charges is None:
        return f"{day.isoformat()}: domiciliación is running in another process"
    return f"{day.isoformat()}: {charges.summary()}"
