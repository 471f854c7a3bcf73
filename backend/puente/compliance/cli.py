"""``puente aml …``: load watch lists and FIX rates, write the quarterly relevant report.

    puente aml listas FILE              replace the lists in FILE (format: docs/compliance.md)
                                        and re-screen every customer
    puente aml fix FILE                 store FIX rates from a CSV ``fecha,tipo_cambio``
    puente aml relevantes --institucion SLUG --anio 2026 --trimestre 4 [--salida DIR]
A malformed file exits 2, says where, and changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

__all__ = ["add_aml_commands", "parse_fix_file", "with_runtime"]


def parse_fix_file(text: str) -> dict[date, Decimal]:
    """``fecha,tipo_cambio`` rows (AAAA-MM-DD, MXN per USD); ValueError names the line."""
    rates: dict[date, Decimal] = {}
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    if set(reader.fieldnames or []) != {"fecha", "tipo_cambio"}:
        raise ValueError("línea 1: el encabezado debe ser fecha,tipo_cambio")
    for line, row in enumerate(reader, start=2):
        try:
            day = date.fromisoformat((row["fecha"] or "").strip())
            rate = Decimal((row["tipo_cambio"] or "").strip())
        except (ValueError, InvalidOperation):
            raise ValueError(f"línea {line}: fecha o tipo de cambio no válidos") from None
        if not rate.is_finite() or rate <= 0:
            raise ValueError(f"línea {line}: el tipo de cambio debe ser positivo")
        rates[day] = rate
    return rates


def with_runtime(work: Callable[[Any], Awaitable[int]]) -> int:
    """Run ``work(runtime)`` with the database open (settings from the environment)."""
    from puente.config import load_settings
    from puente.db import open_database
    from puente.runtime import Runtime

    settings = load_settings()

    async def run() -> int:
        async with open_database(settings.database_url):
            return await work(Runtime.from_settings(settings))

    return asyncio.run(run())


def cmd_lists(args: argparse.Namespace) -> int:
    from puente.compliance.screening_service import load_watchlists
    from puente.compliance.watchlist_file import WatchlistFileError, parse_watchlist

    text = Path(args.file).read_text(encoding="utf-8")
    try:
        parse_watchlist(text)  # refuse before connecting: a bad file changes nothing
    except WatchlistFileError as exc:
        print(f"puente aml listas: {exc}", file=sys.stderr)
        return 2

    async def work(runtime: Any) -> int:
        counts = await load_watchlists(runtime, text, source=Path(args.file).name)
        print(", ".join(f"{kind}: {count}" for kind, count in counts.items()))
        return 0

    return with_runtime(work)


def cmd_fix(args: argparse.Namespace) -> int:
    from puente.compliance.monitoring_service import store_fix_rates

    try:
        rates = parse_fix_file(Path(args.file).read_text(encoding="utf-8"))
    except ValueError as exc:
        print(f"puente aml fix: {exc}", file=sys.stderr)
        return 2

    async def work(runtime: Any) -> int:
        print(f"{await store_fix_rates(rates)} tipos de cambio FIX guardados")
        return 0

    return with_runtime(work)


def cmd_relevant(args: argparse.Namespace) -> int:
    from puente.compliance.reports import relevant_operations_report
    from puente.institutions.models import Institution

    async def work(runtime: Any) -> int:
        institution = await Institution.filter(slug=args.institucion).first()
        if institution is None:
            print("puente aml relevantes: no existe esa institución", file=sys.stderr)
            return 2
        report = await relevant_operations_report(
            runtime, institution.id, args.anio, args.trimestre
        )
        path = Path(args.salida) / report.filename
        path.write_text(report.text, encoding="utf-8")
        print(f"{path}: {report.rows} operaciones relevantes")
        return 0

    return with_runtime(work)


def add_aml_commands(commands: Any) -> None:
    """Register ``puente aml`` on the CLI's subparsers."""
    aml = commands.add_parser("aml", help="PLD/AML: listas, tipos de cambio FIX, reportes")
    sub = aml.add_subparsers(dest="aml_command", required=True)
    lists = sub.add_parser("listas", help="cargar listas (bloqueadas, PEP, sanciones)")
    lists.add_argument("file")
    lists.set_defaults(func=cmd_lists)
    fix = sub.add_parser("fix", help="cargar tipos de cambio FIX (fecha,tipo_cambio)")
    fix.add_argument("file")
    fix.set_defaults(func=cmd_fix)
    relevant = sub.add_parser("relevantes", help="reporte trimestral de operaciones relevantes")
    relevant.add_argument("--institucion", required=True)
    relevant.add_argument("--anio", type=int, required=True)
    relevant.add_argument("--trimestre", type=int, choices=(1, 2, 3, 4), required=True)
    relevant.add_argument("--salida", default=".")
    relevant.set_defaults(func=cmd_relevant)
