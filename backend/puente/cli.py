"""The ``puente`` command (names fixed by ../shared/contract.md)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

from puente.config import DEMO_STATE_DIR, ConfigError, Settings, development_settings, load_settings
from puente.observability.logs import configure_logging

__all__ = ["main"]

STATE_DIR = DEMO_STATE_DIR


def _runtime(settings: Settings):
    from puente.runtime import Runtime

    return Runtime.from_settings(settings)


def cmd_migrate(args: argparse.Namespace) -> int:
    from puente.db import migrate

    settings = load_settings()
    asyncio.run(migrate(settings.database_url))
    print("migrations applied")
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from puente.graphql.schema import schema

    sys.stdout.write(schema.as_str() + "\n")
    return 0


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from puente.audit.service import verify_audit_log
    from puente.db import open_database

    settings = load_settings()

    async def run() -> int:
        async with open_database(settings.database_url):
            report, head = await verify_audit_log()
        if report.ok:
            print(f"audit log intact: {report.checked} entries verified (head seq {head})")
            return 0
        print(
            f"audit log BROKEN at seq {report.first_bad_seq}: {report.reason} "
            f"({report.checked} entries verified before it)",
            file=sys.stderr,
        )
        return 1

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace) -> int:
    import signal

    import uvicorn

    try:
        settings = load_settings()
        _runtime(settings)
    except ConfigError as exc:
        print(f"puente serve: {exc}", file=sys.stderr)
        return 2
    worker = None
    if settings.webhook_worker == "process":
        from puente.worker import WorkerProcess

        configure_logging(fmt=settings.log_format or "json", level=settings.log_level)
        worker = WorkerProcess()
        worker.start()
    # uvicorn re-raises the signal that stopped it once it has shut down; recorded here
    # instead, so the worker is stopped (and drained) before this process goes.
    received: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: received.append(number))
    try:
        uvicorn.run(
            "puente.app:app_from_environment",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            proxy_headers=True,
            log_config=None,  # each worker routes logging through structlog
            log_level=settings.log_level,
            access_log=os.environ.get("PUENTE_ACCESS_LOG", "1") not in ("0", "false", "no"),
            # uvicorn waits for open responses without limit by default (docs/operations.md).
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
        )
    finally:
        if worker is not None:
            worker.stop()
    if received:  # die of the signal, as a server stopped by it does
        signal.signal(received[0], signal.SIG_DFL)
        signal.raise_signal(received[0])
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from puente.worker import run_worker

    settings = load_settings()
    settings.require_secrets()
    configure_logging(fmt=settings.log_format or "json", level=settings.log_level)
    asyncio.run(run_worker(settings, parent_pid=args.parent))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from puente.demo import DEMO_LOGINS
    from puente.demo_app import build_demo_app

    base = load_settings()
    settings = development_settings(base, STATE_DIR).with_overrides(
        base_url=f"http://{args.host}:{args.port}"
    )
    app, runtime = asyncio.run(build_demo_app(settings))
    url = settings.base_url
    print(f"\nPuente demo running at {url}/  (sandbox: {url}/sandbox/)")
    print(f"database: {settings.database_url}")
    print("demo logins:")
    for email, password, who in DEMO_LOGINS:
        print(f"  {email:24} {password:18} {who}")
    print()
    configure_logging(fmt=settings.log_format or "console", level=settings.log_level)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", log_config=None)
    return 0


def cmd_sandbox(argv: Sequence[str]) -> int:
    from puente.sandbox_hook import SandboxNotInstalled, load_sandbox

    try:
        plugin = load_sandbox()
    except SandboxNotInstalled as exc:
        print(exc, file=sys.stderr)
        return 2
    argv = list(argv)
    if not argv or argv[0].startswith("-"):
        argv = ["serve", *argv]
    return plugin.main(argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="puente", description="Puente command line")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="demo data + app + sandboxes on SQLite")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(func=cmd_demo)
    serve = commands.add_parser("serve", help="production server (configuration from env)")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)
    worker = commands.add_parser(
        "worker", help="apply received webhooks (what `puente serve` starts where Redis is set)"
    )
    worker.add_argument("--parent", type=int, default=None, help=argparse.SUPPRESS)
    worker.set_defaults(func=cmd_worker)
    migrate = commands.add_parser("migrate", help="apply migrations to PUENTE_DATABASE_URL")
    migrate.set_defaults(func=cmd_migrate)
    commands.add_parser("sandbox", help="provider simulators alone", add_help=False)
    export = commands.add_parser("export-schema", help="print the GraphQL SDL")
    export.set_defaults(func=cmd_export_schema)
    audit = commands.add_parser("audit", help="audit log tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser("verify", help="check the hash chain")
    verify.set_defaults(func=cmd_audit_verify)
    # The daily job charges colegiatura recargos through what tuition registers with the
    # loan core; the loan core itself never imports tuition.
    import puente.compliance  # noqa: F401  (screening and monitoring hooks)
    import puente.notifications  # noqa: F401  (payment notices, the daily job's reminders)
    import puente.tuition  # noqa: F401
    from puente.daily import cmd_charges, cmd_daily

    jobs = commands.add_parser("jobs", help="scheduled jobs (run from cron)")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    daily = jobs_commands.add_parser("daily", help="bill, apply advances, accrue moratorium")
    daily.add_argument("--date", default=None, help="YYYY-MM-DD (default: today, Mexico City)")
    daily.add_argument(
        "--workers", type=int, default=1, help="run the charges in N processes (shards)"
    )
    daily.set_defaults(func=cmd_daily)
    charges = jobs_commands.add_parser("charges", help="the domiciliación charges alone")
    charges.add_argument("--date", default=None, help="YYYY-MM-DD (default: today, Mexico City)")
    charges.add_argument("--workers", type=int, default=1, help="run in N processes (shards)")
    charges.add_argument("--shard", default=None, help="K/N: only this shard (one worker's part)")
    charges.set_defaults(func=cmd_charges)
    from puente.invoicing.cli import add_cfdi_commands, add_fiscal_job

    add_fiscal_job(jobs_commands)
    add_cfdi_commands(commands)
    from puente.compliance.cli import add_aml_commands

    add_aml_commands(commands)
    from puente.reconciliation.cli import add_reconcile_commands

    add_reconcile_commands(commands)
    from puente.ledger.cli import add_ledger_commands

    add_ledger_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "sandbox":
        return cmd_sandbox(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"puente: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
