"""``puente ledger check-balances|fold-balances``: the read model's operator doors.

``check-balances`` recomputes every running balance and installment total from the
postings and prints each difference; it exits 1 when there is any (0 when consistent).
``fold-balances`` adds the rows entries appended for institution-wide accounts into one
row per account (the daily job does it too); safe while payments are applied.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from puente.config import load_settings

__all__ = ["add_ledger_commands"]


def cmd_check_balances(args: argparse.Namespace) -> int:
    from puente.db import open_database
    from puente.ledger.balances import check_balances

    settings = load_settings()

    async def run() -> int:
        async with open_database(settings.database_url):
            drift = await check_balances()
        if not drift:
            print("ledger balances match the postings")
            return 0
        for item in drift[: args.limit]:
            print(item, file=sys.stderr)
        more = len(drift) - args.limit
        if more > 0:
            print(f"... and {more} more", file=sys.stderr)
        print(
            f"ledger balances DRIFT: {len(drift)} figures differ from the postings", file=sys.stderr
        )
        return 1

    return asyncio.run(run())


def cmd_fold_balances(args: argparse.Namespace) -> int:
    from puente.db import open_database
    from puente.ledger.balances import fold_institution_deltas

    settings = load_settings()

    async def run() -> int:
        async with open_database(settings.database_url):
            folded = await fold_institution_deltas()
        print(f"{folded} balance rows folded")
        return 0

    return asyncio.run(run())


def add_ledger_commands(commands: argparse._SubParsersAction) -> None:
    """``puente ledger ...`` on the main parser."""
    ledger = commands.add_parser("ledger", help="ledger read model tools")
    ledger_commands = ledger.add_subparsers(dest="ledger_command", required=True)
    check = ledger_commands.add_parser(
        "check-balances", help="recompute balances from postings; exit 1 on any difference"
    )
    check.add_argument("--limit", type=int, default=50, help="differences to print")
    check.set_defaults(func=cmd_check_balances)
    fold = ledger_commands.add_parser(
        "fold-balances", help="fold institution-wide balance rows into one per account"
    )
    fold.set_defaults(func=cmd_fold_balances)
