"""Benchmark: payment webhooks applied to real loans by 1 and 2 inbox workers (PostgreSQL).

Run with ``.venv/bin/python bench/apply.py [--loans 3000] [--batch 50]
[--baseline-ref c7f860a]`` (PostgreSQL from ``PUENTE_TEST_POSTGRES_URL``, an admin URL; a
throwaway database is created and dropped per run).

Each run seeds N active loans with 12 installments (one built through the services, the
rest copies of its rows), a SPEI payment per loan waiting for its money and a signed
``payment.succeeded`` event per payment in the inbox, as the webhook door stores it. Then
1 or 2 worker processes (``WebhookInbox.process_due`` in a loop, as ``puente serve`` runs
it) drain the inbox: each event moves its payment to PAID, applies the money to the loan by
prelación (billing the installment, the payment entry), audits it and settles the event.
Printed per run: applications/s (wall time from the start signal to the last worker done),
the 2-worker/1-worker ratio, SQL statements per application (a separate counted run: the
statement log costs time), and that every payment was applied exactly once and that
``puente audit verify`` accepts the log.

The baseline is the same bench run against the code of ``--baseline-ref`` (default: the
commit this work started from), extracted with ``git archive`` into a temporary folder and
put first on the workers' ``PYTHONPATH``: the same machine, the same minute. Targets (issue
15): ≥ 1,000 applications/s with 2 workers; 2 workers ≥ 1.7× one. Background observers
(AML monitoring, notices) are not loaded: what is measured is the application itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
START = date(2026, 9, 15)
NOW = datetime(2026, 10, 15, 15, 0, tzinfo=UTC)  # installment 1's due date, Mexico City
WORKER_FLAGS: list[str] = []  # passed on to every worker (``--observers``)
BASELINE_REF = "0cc770c"  # main when the batch transaction and one-statement entries began

COPIED: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("users", "id = {user}", {}),
    ("loans", "id = {loan}", {"borrower_id": "users"}),
    ("installments", "loan_id = {loan}", {"loan_id": "loans"}),
    ("ledger_accounts", "loan_id = {loan}", {"loan_id": "loans"}),
    ("journal_entries", "loan_id = {loan}", {"loan_id": "loans"}),
    (
        "postings",
        "entry_id IN (SELECT id FROM journal_entries WHERE loan_id = {loan})",
        {"entry_id": "journal_entries", "account_id": "ledger_accounts"},
    ),
    ("payments", "loan_id = {loan}", {"loan_id": "loans", "user_id": "users"}),
    (
        "provider_events",
        "provider_payment_id IN (SELECT provider_reference FROM payments WHERE loan_id = {loan})",
        {},
    ),
)


def _uniquify(template_loan: int) -> Any:
    def unique(table: str, column: str, value: Any, k: int, new_loan: int) -> Any:
        if value is None:
            return value
        if table == "users" and column == "email":
            return f"b{k}-{value}"
        if table == "ledger_accounts" and column == "code":
            return str(value).replace(f"loan:{template_loan}:", f"loan:{new_loan}:")
        if table == "journal_entries" and column == "idempotency_key":
            return f"{value}#{k}"
        if table == "payments" and column in ("idempotency_key", "provider_reference"):
            return f"{value}-{k}"
        if table == "provider_events" and column in ("event_id", "provider_payment_id"):
            return f"{value}-{k}"
        return value

    return unique


def _runtime(url: str) -> Any:
    from puente.config import Settings, parse_encryption_keys
    from puente.runtime import Runtime

    settings = Settings(
        database_url=url,
        secret_key="bench-secret-key-0123456789-0123456789-abcdef",
        encryption_keys=parse_encryption_keys("b1:" + "A" * 43),
    )
    return Runtime.from_settings(settings, clock=lambda: NOW)


async def _open(url: str, pool: int) -> None:
    from urllib.parse import urlsplit

    from tortoise import Tortoise

    from puente.db import tortoise_config

    config = tortoise_config(url)
    parts = urlsplit(url)
    config["connections"]["default"] = {
        "engine": "tortoise.backends.asyncpg",
        "credentials": {
            "host": parts.hostname,
            "port": parts.port or 5432,
            "user": parts.username,
            "password": parts.password or "",
            "database": parts.path.lstrip("/"),
            "minsize": 1,
            "maxsize": pool,
        },
    }
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def _seed(url: str, count: int) -> dict[str, Any]:
    from decimal import Decimal

    from loan_copies import copy_rows
    from tortoise import Tortoise
    from tortoise.connection import get_connection

    from puente.accounts.users import create_user
    from puente.db import migrate
    from puente.enums import (
        InstitutionKind,
        PaymentMethodType,
        PaymentStatus,
        ProviderName,
        Role,
    )
    from puente.institutions.models import Institution
    from puente.loans.lifecycle import approve_loan
    from puente.loans.models import Installment, LoanProduct
    from puente.loans.origination import originate_loan, record_disbursement
    from puente.payments.models import Payment
    from puente.webhooks.models import ProviderEvent

    await migrate(url)
    await _open(url, 4)
    runtime = _runtime(url)
    inst = await Institution.create(slug="bench", name="Bench", kind=InstitutionKind.LENDER)
    ana = await create_user(
        runtime,
        institution_id=inst.id,
        email="bench@example.mx",
        password="contrasena-segura-1",
        full_name="Ana Bench",
        role=Role.BORROWER,
    )
    product = await LoanProduct.create(
        institution_id=inst.id, name="Préstamo", annual_rate=Decimal("0.36")
    )
    loan = await originate_loan(
        product=product,
        borrower_id=ana.id,
        principal=Decimal("12000.00"),
        term_count=12,
        start_date=START,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=START)
    first = await Installment.get(loan_id=loan.id, number=1)
    payment = await Payment.create(
        institution_id=inst.id,
        loan_id=loan.id,
        user_id=ana.id,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.SPEI,
        amount_centavos=first.total_centavos,
        status=PaymentStatus.REQUIRES_ACTION,
        idempotency_key="bench",
        request_fingerprint="bench",
        provider_reference="pi_bench",
    )
    await ProviderEvent.create(
        provider=ProviderName.STRIPE,
        event_id="evt_bench",
        event_type="payment_intent.succeeded",
        institution_id=inst.id,
        kind="payment.succeeded",
        provider_payment_id="pi_bench",
        amount_centavos=payment.amount_centavos,
        occurred_at=NOW,
        raw_body="{}",
        body_authenticated=True,
    )
    where = [(t, rule.format(loan=loan.id, user=ana.id), refs) for t, rule, refs in COPIED]
    await copy_rows(get_connection("default"), where, count - 1, _uniquify(loan.id), postgres=True)
    try:  # the ledger's read model (absent from a baseline older than it)
        from puente.ledger.balances import rebuild_balances
    except ImportError:
        pass
    else:  # the copies' postings were written around post_entry: their balances from them
        await rebuild_balances(get_connection("default"))
    await get_connection("default").execute_script("ANALYZE")
    await Tortoise.close_connections()
    return {"loans": count}


def _silence_observers() -> None:
    """No AML monitoring or notices after each commit: they run in background tasks of
    their own and are not the application (``--observers`` keeps them)."""
    from puente.payments import observers
    from puente.payments.compliance_hooks import compliance

    observers._OBSERVERS.clear()
    compliance().transition_observers.clear()


async def _work(url: str, batch: int, count: bool, observers: bool) -> dict[str, Any]:
    from tortoise import Tortoise

    from puente.payments.gateways import GatewayDirectory
    from puente.webhooks.inbox import WebhookInbox

    await _open(url, 4)
    runtime = _runtime(url)
    inbox = WebhookInbox(runtime, GatewayDirectory(runtime))
    if not observers:
        _silence_observers()
    log = _StatementCounter() if count else None
    if not count:
        print("ready", flush=True)
        sys.stdin.readline()  # the start signal: every worker begins together
    began = time.time()
    handled = 0
    if log is not None:
        log.install()
    profile = None
    if os.environ.get("BENCH_PROFILE"):  # a cProfile dump of one worker's run
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    while done := await inbox.process_due(limit=batch):
        handled += done
    ended = time.time()
    if profile is not None:
        profile.disable()
        profile.dump_stats(os.environ["BENCH_PROFILE"])
    if log is not None:
        log.remove()
    await Tortoise.close_connections()
    return {
        "began": began,
        "ended": ended,
        "handled": handled,
        "statements": len(log.statements) if log is not None else None,
        "sample": log.statements[:80] if log is not None else None,
    }


class _StatementCounter(logging.Handler):
    """Tortoise logs each statement at DEBUG on ``tortoise.db_client`` (as in the tests)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.args[0]) if record.args else record.getMessage()
        self.statements.append(text[:160])

    def install(self) -> None:
        logging.disable(logging.NOTSET)
        logger = logging.getLogger("tortoise.db_client")
        logger.addHandler(self)
        logger.setLevel(logging.DEBUG)

    def remove(self) -> None:
        logging.getLogger("tortoise.db_client").removeHandler(self)


async def _check(url: str, count: int) -> dict[str, Any]:
    """Every payment PAID with one payment entry; the audit log verifies."""
    from tortoise import Tortoise

    from puente.audit.service import verify_audit_log
    from puente.enums import JournalKind, PaymentStatus
    from puente.ledger.models import JournalEntry
    from puente.payments.models import Payment

    await _open(url, 2)
    paid = await Payment.filter(status=PaymentStatus.PAID).count()
    entries = await JournalEntry.filter(kind=JournalKind.PAYMENT).count()
    report, _ = await verify_audit_log()
    await Tortoise.close_connections()
    return {"paid": paid, "entries": entries, "audit_ok": report.ok, "expected": count}


# -- the parent: databases, children, figures ---------------------------------------------


def _child_env(code: Path | None) -> dict[str, str]:
    # Not bench/ itself: its collections.py would shadow the standard library's at start-up
    # (a script's own folder is put on sys.path only after that).
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
    return env


def _run_child(code: Path | None, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        env=_child_env(code),
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)}: failed\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _admin(sql: str) -> None:
    import asyncpg

    async def run() -> None:
        url = os.environ["PUENTE_TEST_POSTGRES_URL"].replace("asyncpg://", "postgresql://")
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _database() -> tuple[str, str]:
    name = f"puente_bench_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    return name, os.environ["PUENTE_TEST_POSTGRES_URL"].rpartition("/")[0] + f"/{name}"


def _one_run(code: Path | None, loans: int, workers: int, batch: int) -> dict[str, Any]:
    name, url = _database()
    try:
        _run_child(code, "--seed", url, str(loans))
        children = [
            subprocess.Popen(
                [sys.executable, __file__, "--work", url, "--batch", str(batch), *WORKER_FLAGS],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=_child_env(code),
            )
            for _ in range(workers)
        ]
        for child in children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise SystemExit(f"worker failed to start\n{child.stderr.read()[-4000:]}")
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, err = child.communicate()
            if child.returncode != 0:
                raise SystemExit(f"worker failed\n{err[-4000:]}")
            results.append(json.loads(out.strip().splitlines()[-1]))
        check = _run_child(code, "--check", url, str(loans))
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    seconds = max(r["ended"] for r in results) - min(r["began"] for r in results)
    return {
        "per_s": loans / seconds,
        "seconds": seconds,
        "handled": [r["handled"] for r in results],
        **check,
    }


def _counted_run(code: Path | None, loans: int, batch: int) -> dict[str, Any]:
    name, url = _database()
    try:
        _run_child(code, "--seed", url, str(loans))
        result = _run_child(code, "--work", url, "--batch", str(batch), "--count", *WORKER_FLAGS)
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if os.environ.get("BENCH_SHOW_STATEMENTS"):
        for text in result["sample"]:
            print("   ", text, file=sys.stderr)
    return {"per_application": result["statements"] / loans}


def _baseline_code(ref: str, folder: Path) -> Path | None:
    """The backend of ``ref`` in ``folder`` (git archive), or None outside a git checkout."""
    done = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, "backend/puente"],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        print(f"baseline {ref} unavailable: {done.stderr.decode().strip()}", file=sys.stderr)
        return None
    with tarfile.open(fileobj=BytesIO(done.stdout)) as archive:
        archive.extractall(folder, filter="data")
    return folder / "backend"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--workers", default="1,2", help="'' to count statements only")
    parser.add_argument("--baseline-ref", default=BASELINE_REF, help="'' for no baseline")
    parser.add_argument("--seed", nargs=2, metavar=("URL", "LOANS"), help=argparse.SUPPRESS)
    parser.add_argument("--work", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--check", nargs=2, metavar=("URL", "LOANS"), help=argparse.SUPPRESS)
    parser.add_argument("--count", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--observers", action="store_true", help="keep AML monitoring and notices running"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # a log line per application would measure the logger
    if args.seed:
        print(json.dumps(asyncio.run(_seed(args.seed[0], int(args.seed[1])))))
        return 0
    if args.work:
        print(json.dumps(asyncio.run(_work(args.work, args.batch, args.count, args.observers))))
        return 0
    if args.check:
        print(json.dumps(asyncio.run(_check(args.check[0], int(args.check[1])))))
        return 0
    if args.observers:
        WORKER_FLAGS.append("--observers")
    if not os.environ.get("PUENTE_TEST_POSTGRES_URL"):
        print("PUENTE_TEST_POSTGRES_URL not set: this bench needs PostgreSQL", file=sys.stderr)
        return 2
    worker_counts = [int(n) for n in args.workers.split(",") if n]
    ok = True
    with tempfile.TemporaryDirectory() as folder:
        codes: list[tuple[str, Path | None]] = []
        if args.baseline_ref:
            baseline = _baseline_code(args.baseline_ref, Path(folder))
            if baseline is not None:
                codes.append((f"baseline {args.baseline_ref}", baseline))
        codes.append(("this code", None))
        print(
            f"{args.loans} loans, one payment.succeeded event each, batch {args.batch}; "
            f"PostgreSQL; {os.cpu_count()} CPUs"
        )
        if not worker_counts:
            for label, code in codes:
                counted = _counted_run(code, min(args.loans, 300), args.batch)
                print(f"{label}: {counted['per_application']:.1f} statements per application")
            return 0
        print(
            f"{'code':20} {'workers':>7} {'seconds':>8} {'applied/s':>10} {'× 1 worker':>10} "
            f"{'stmts/appl':>10} {'exactly once':>12} {'audit ok':>8}"
        )
        for label, code in codes:
            statements = _counted_run(code, min(args.loans, 300), args.batch)["per_application"]
            single: float | None = None
            for workers in worker_counts:
                run = _one_run(code, args.loans, workers, args.batch)
                once = run["paid"] == run["entries"] == args.loans
                if workers == 1:
                    single = run["per_s"]
                ratio = run["per_s"] / single if single else float("nan")
                print(
                    f"{label:20} {workers:7d} {run['seconds']:8.1f} {run['per_s']:10.0f} "
                    f"{ratio:10.2f} {statements:10.1f} {str(once):>12} {str(run['audit_ok']):>8}",
                    flush=True,
                )
                if code is None:
                    ok &= once and run["audit_ok"]
                    if workers == 2:
                        ok &= run["per_s"] >= 1000 and ratio >= 1.7
    ok &= 2 in worker_counts
    print(
        "targets met"
        if ok
        else "targets NOT met (≥ 1,000 applications/s with 2 workers, 2 workers ≥ 1.7× one)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
