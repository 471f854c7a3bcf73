"""``puente reconcile import|settlements|remittance|demo-files``: thin doors.

``import`` and ``settlements`` are named by ../shared/contract.md.

``import FILE [--format camt053|mt940|stp|csv:PRESET] [--account ID] [--json]`` prints a
summary table (a progress bar while a long file is read, on stderr), or with ``--json`` only
``{"lines", "new", "duplicates", "matched", "suggested", "exceptions"}``. A malformed file
exits 1, says where, and imports nothing; an unknown format or preset exits 2.

``remittance FILE [--deposit LINE_ID] [--layout nomina]`` splits a payroll deposit (found by
the reference in its concept when ``--deposit`` is not given) across the loans the
employer's remittance file names (``reconciliation/remittance``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from puente.config import load_settings

__all__ = ["add_reconcile_commands"]

# Files this big get a progress bar (smaller ones finish before it would show).
_PROGRESS_BYTES = 1 << 20


class CommandError(Exception):
    """A refusal for the operator (Spanish), with the exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


async def _institution(slug: str | None) -> Any:
    from puente.institutions.models import Institution

    if slug:
        found = await Institution.filter(slug=slug).first()
        if found is None:
            raise CommandError(f"no existe la institución {slug!r}")
        return found
    institutions = await Institution.all().order_by("id").limit(2)
    if len(institutions) != 1:
        raise CommandError("indique --institution SLUG (hay varias o ninguna institución)")
    return institutions[0]


def _runtime() -> Any | None:
    """The process's runtime (None when secrets are absent). Importing compliance registers
    AML monitoring with the payment funnel, as ``puente serve`` does."""
    import puente.compliance  # noqa: F401  (screening and monitoring hooks)
    from puente.config import DEMO_STATE_DIR, ConfigError, development_settings
    from puente.runtime import Runtime

    settings = load_settings()
    try:
        return Runtime.from_settings(settings)
    except ConfigError:
        if (DEMO_STATE_DIR / "dev-secrets").exists():  # the demo's database, keys, sandboxes
            from puente.sandbox_hook import demo_provider_env

            dev = development_settings(settings, DEMO_STATE_DIR)
            return Runtime.from_settings(dev.with_overrides(provider_env=demo_provider_env(dev)))
        return None


def _required_runtime() -> Any:
    """The runtime, or a refusal: payments found on a statement go through the funnel, which
    tells subscribers and AML monitoring (they need the process's secrets)."""
    runtime = _runtime()
    if runtime is None:
        raise CommandError("faltan PUENTE_SECRET_KEY y PUENTE_ENCRYPTION_KEYS", code=2)
    return runtime


@asynccontextmanager
async def _funnel_session(slug: str | None) -> AsyncIterator[tuple[Any, Any]]:
    """The database, the runtime and the institution for a command that records payments;
    on the way out AML monitoring of those payments finishes before the process exits."""
    from puente.compliance.monitoring_service import drain_monitoring
    from puente.db import open_database

    async with open_database(load_settings().database_url):
        runtime = _required_runtime()
        try:
            yield runtime, await _institution(slug)
        finally:
            await drain_monitoring()
            await runtime.bus.close()


async def _stp_cuenta(runtime: Any | None, institution: Any) -> str:
    """The STP cuenta under which loans have their CLABEs ("" when STP is not set up)."""
    if runtime is None:
        return ""
    from puente.payments.gateways import GatewayDirectory
    from puente.reconciliation.service import stp_cuenta_of

    gateways = GatewayDirectory(runtime)
    try:
        return await stp_cuenta_of(gateways, institution)
    finally:
        await gateways.aclose()


@contextmanager
def _progress(path: Path, quiet: bool) -> Iterator[Any]:
    if quiet or path.stat().st_size < _PROGRESS_BYTES:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("[bold]Importando[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("líneas"),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(path.name, total=None)
        yield lambda lines: bar.update(task, completed=lines)


def _print_summary(summary: Any, path: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Conciliación de {path.name}")
    table.add_column("concepto")
    table.add_column("líneas", justify="right")
    labels = {
        "lines": "leídas",
        "new": "nuevas",
        "duplicates": "duplicadas (ya importadas)",
        "matched": "conciliadas",
        "suggested": "sugeridas (por confirmar)",
        "exceptions": "excepciones",
    }
    for name, value in summary.as_json().items():
        table.add_row(labels[name], str(value))
    Console().print(table)


def cmd_import(args: argparse.Namespace) -> int:
    """``puente reconcile import FILE``."""
    from puente.payments.change_notices import notify_institution
    from puente.reconciliation.importers import MalformedStatement, UnknownFormat, guess_format
    from puente.reconciliation.service import import_and_reconcile

    path = Path(args.file)

    async def run() -> Any:
        async with _funnel_session(args.institution) as (runtime, institution):
            cuenta = await _stp_cuenta(runtime, institution)
            with _progress(path, args.json) as progress:
                summary = await import_and_reconcile(
                    runtime,
                    institution.id,
                    path,
                    args.format or guess_format(path),
                    at=datetime.now(UTC),
                    account=args.account or "",
                    stp_cuenta=cuenta,
                    progress=progress,
                )
            if summary.exceptions:
                # The staff dashboards' feed (institutionEvents): through Redis when the
                # server shares it, else nobody is listening in this process.
                await notify_institution(
                    runtime.bus,
                    institution.id,
                    "exception.opened",
                    runtime.now(),
                    subject_id=summary.statement_id,
                )
            return summary

    try:
        if not path.is_file():
            raise CommandError(f"no existe el archivo {path}")
        summary = asyncio.run(run())
    except MalformedStatement as exc:
        print(
            f"puente reconcile import: archivo mal formado, nada importado: {exc}", file=sys.stderr
        )
        return 1
    except (UnknownFormat, CommandError) as exc:
        print(f"puente reconcile import: {exc}", file=sys.stderr)
        return getattr(exc, "code", 2)
    if args.json:
        print(json.dumps(summary.as_json()))
    else:
        _print_summary(summary, path)
    return 0


def cmd_remittance(args: argparse.Namespace) -> int:
    """``puente reconcile remittance FILE [--deposit LINE_ID] [--layout nomina]``."""
    from puente.reconciliation.importers import MalformedStatement, UnknownFormat
    from puente.reconciliation.remittance import RemittanceRefused, apply_remittance

    path = Path(args.file)

    async def run() -> Any:
        async with _funnel_session(args.institution) as (runtime, institution):
            return await apply_remittance(
                runtime,
                institution.id,
                path,
                at=datetime.now(UTC),
                layout=args.layout,
                line_id=args.deposit,
            )

    try:
        if not path.is_file():
            raise CommandError(f"no existe el archivo {path}")
        summary = asyncio.run(run())
    except MalformedStatement as exc:
        print(
            f"puente reconcile remittance: archivo mal formado, nada aplicado: {exc}",
            file=sys.stderr,
        )
        return 1
    except (UnknownFormat, CommandError, RemittanceRefused) as exc:
        print(f"puente reconcile remittance: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    if args.json:
        print(json.dumps(summary.as_json()))
        return 0
    print(
        f"Remesa {summary.remittance_id} sobre el movimiento {summary.line_id}: "
        f"{summary.rows} renglones por {summary.total_centavos / 100:.2f}; "
        f"{summary.applied} aplicados a sus préstamos, {summary.unknown} sin identificar "
        "(en la cola de excepciones)"
        if summary.status == "applied"
        else f"Remesa {summary.remittance_id}: no cuadra, nada aplicado ({summary.detail}); "
        "el depósito sigue en la cola de excepciones"
    )
    return 0


def cmd_settlements(args: argparse.Namespace) -> int:
    """``puente reconcile settlements --provider P [--since DATE]``: fetch gateway payouts."""
    from datetime import date, timedelta

    from puente.db import open_database
    from puente.payments.gateways import GatewayDirectory
    from puente.reconciliation.settlements import fetch_settlements

    try:
        since_day = date.fromisoformat(args.since) if args.since else None
    except ValueError:
        print(
            f"puente reconcile settlements: --since debe ser AAAA-MM-DD: {args.since!r}",
            file=sys.stderr,
        )
        return 2
    settings = load_settings()

    async def run() -> list[Any]:
        async with open_database(settings.database_url):
            runtime = _required_runtime()
            institution = await _institution(args.institution)
            gateways = GatewayDirectory(runtime)
            try:
                connector = await gateways.gateway(institution, args.provider)
                start = since_day or (datetime.now(UTC).date() - timedelta(days=30))
                return await fetch_settlements(
                    connector, institution.id, datetime.combine(start, time.min, UTC)
                )
            finally:
                await gateways.aclose()

    from puente.providers.errors import ProviderError

    try:
        stored = asyncio.run(run())
    except ProviderError as exc:
        print(f"puente reconcile settlements: el proveedor no respondió: {exc}", file=sys.stderr)
        return 1
    except (CommandError, ValueError) as exc:
        print(f"puente reconcile settlements: {exc}", file=sys.stderr)
        return getattr(exc, "code", 1)
    for row, new in stored:
        mark = "nuevo" if new else "ya registrado"
        print(
            f"{row.provider} {row.provider_id}: neto {row.net_centavos / 100:.2f} "
            f"(bruto {row.gross_centavos / 100:.2f}, comisión {row.fee_centavos / 100:.2f}, "
            f"IVA {row.fee_vat_centavos / 100:.2f}) {mark}"
        )
    print(f"{len(stored)} pagos del proveedor, {sum(1 for _, n in stored if n)} nuevos")
    return 0


def cmd_demo_files(args: argparse.Namespace) -> int:
    """``puente reconcile demo-files [--out DIR]``: statements from the demo's own data."""
    from puente.db import open_database
    from puente.reconciliation.demo_files import (
        announce_demo_transfers,
        demo_statements,
        write_statements,
    )
    from puente.runtime import mexico_city_date

    settings = load_settings()

    async def run() -> Any:
        async with open_database(settings.database_url):
            institution = await _institution(args.institution)
            runtime = _runtime()
            today = mexico_city_date(datetime.now(UTC))
            if runtime is not None:  # without secrets nothing can be announced: files only
                from puente.payments.checkout import PaymentRefused
                from puente.payments.gateways import GatewayDirectory

                gateways = GatewayDirectory(runtime)
                try:
                    await announce_demo_transfers(runtime, gateways, institution.id, today=today)
                except PaymentRefused as exc:  # the files are still worth writing
                    print(f"sin transferencias anunciadas: {exc.message}", file=sys.stderr)
                finally:
                    await gateways.aclose()
            cuenta = await _stp_cuenta(runtime, institution)
            return await demo_statements(institution.id, today=today, stp_cuenta=cuenta)

    try:
        written = write_statements(Path(args.out), asyncio.run(run()))
    except CommandError as exc:
        print(f"puente reconcile demo-files: {exc}", file=sys.stderr)
        return exc.code
    which = f" --institution {args.institution}" if args.institution else ""
    for path in written:
        if path.name.startswith("nomina"):
            continue  # after the statement that brings its deposit
        fmt = {".xml": "camt053", ".sta": "mt940"}.get(path.suffix, "")
        fmt = fmt or ("stp" if path.name.startswith("stp") else "csv:bbva")
        print(f"puente reconcile import {path} --format {fmt}{which}")
    for path in written:
        if path.name.startswith("nomina"):
            print(f"puente reconcile remittance {path}{which}")
    return 0


def add_reconcile_commands(commands: Any) -> None:
    """Register ``reconcile import`` and ``reconcile settlements`` on the main parser."""
    reconcile = commands.add_parser("reconcile", help="bank statements and gateway payouts")
    sub = reconcile.add_subparsers(dest="reconcile_command", required=True)
    imp = sub.add_parser("import", help="import a statement, match it, print a summary")
    imp.add_argument("file")
    imp.add_argument("--format", default=None, help="camt053 | mt940 | stp | csv:PRESET")
    imp.add_argument("--account", default=None, help="the account the statement is about")
    imp.add_argument("--institution", default=None, help="slug (when there are several)")
    imp.add_argument("--json", action="store_true", help="print only the summary as JSON")
    imp.set_defaults(func=cmd_import)
    settle = sub.add_parser("settlements", help="fetch a gateway's payouts and their fees")
    settle.add_argument("--provider", required=True)
    settle.add_argument("--since", default=None, help="YYYY-MM-DD (default: 30 days ago)")
    settle.add_argument("--institution", default=None)
    settle.set_defaults(func=cmd_settlements)
    rem = sub.add_parser("remittance", help="split a payroll deposit by its remittance file")
    rem.add_argument("file")
    rem.add_argument("--deposit", type=int, default=None, help="the deposit's line id")
    rem.add_argument("--layout", default="nomina", help="nomina | /path/layout.json")
    rem.add_argument("--institution", default=None)
    rem.add_argument("--json", action="store_true", help="print only the summary as JSON")
    rem.set_defaults(func=cmd_remittance)
    demo = sub.add_parser("demo-files", help="write demo statements from the demo's data")
    demo.add_argument("--out", default="var/conciliacion")
    demo.add_argument("--institution", default=None)
    demo.set_defaults(func=cmd_demo_files)
