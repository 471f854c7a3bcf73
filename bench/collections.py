"""Benchmark: the due-date domiciliación job charging N installments against the sandbox.

Run with ``.venv/bin/python bench/collections.py [--sizes 10000,100000]
[--backends sqlite,postgres] [--concurrency 16]`` (PostgreSQL from
``PUENTE_TEST_POSTGRES_URL``, an admin URL; a throwaway database is created and dropped per
run). For each backend and size a child process seeds N loans, each with a saved Stripe
card and a signed mandate and an installment due on the bench day (one loan is built
through the services; the rest are copies of its rows), then runs the collections job for
that day (``collections.jobs.run_collections_once``) against the Stripe simulator in-process
(ASGI). Every charge goes through the whole funnel: the payoff ceiling, compliance, the
provider, the payment state machine and its ledger entry. Printed: charges/s, the child's
peak RSS (the job's memory, the figure that must stay flat), and the time spent inside the
simulator. With ``--trace-memory`` also the peak traced memory during the job (tracemalloc:
the in-process simulator's store of every charge included) and what the job still holds at
its end without the simulator's objects ("job kept"; objects the simulator deep-copies are
still counted there); tracing every allocation slows the job about 3x, so the charges/s of
a traced run are not the job's (0.0 in those columns without the flag). ``--baseline``
adds, after each PostgreSQL line, a "(reset)" line: the same run with asyncpg's default
reset of every pooled connection on release (what ``puente.db.keep_session`` replaces). Targets
(issue 13): ≥ 200 charges/s on PostgreSQL; memory flat in the number of installments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

__all__ = ["main"]

START = date(2026, 9, 15)
DAY = date(2026, 10, 15)  # the first due date of a monthly loan started on START (a Thursday)
NOW = datetime(2026, 10, 15, 15, 0, tzinfo=UTC)
STRIPE = {"secret_key": "sk_test_puente_bench_0123456789", "webhook_secret": "whsec_bench_0123"}

# Rows of the template loan copied for every other loan: (table, how to find them, which
# columns point at other copied rows). A column pointing at a row that is not copied (the
# institution's own ledger accounts) keeps its value.
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
    ("payment_methods", "user_id = {user}", {"user_id": "users"}),
    (
        "mandates",
        "loan_id = {loan}",
        {"loan_id": "loans", "user_id": "users", "payment_method_id": "payment_methods"},
    ),
)


def _unique(table: str, column: str, value: Any, k: int, loan_id: int, new_loan: int) -> Any:
    """Columns that are unique keep being so in each copy."""
    if table == "users" and column == "email":
        return f"b{k}-{value}"
    if table == "ledger_accounts" and column == "code":
        return str(value).replace(f"loan:{loan_id}:", f"loan:{new_loan}:")
    if table == "journal_entries" and column == "idempotency_key" and value:
        return f"{value}#{k}"
    return value


async def _copy_template(
    conn: Any, loan_id: int, user_id: int, copies: int, postgres: bool
) -> None:
    """Copy the template's rows ``copies`` times with new ids (``loan_copies``)."""
    from loan_copies import copy_rows

    where = [(table, rule.format(loan=loan_id, user=user_id), refs) for table, rule, refs in COPIED]

    def uniquify(table: str, column: str, value: Any, k: int, new_loan: int) -> Any:
        return _unique(table, column, value, k, loan_id, new_loan)

    await copy_rows(conn, where, copies, uniquify, postgres=postgres)


async def _seed(runtime: Any, gateways: Any, count: int, postgres: bool) -> int:
    from decimal import Decimal

    from tortoise.connection import get_connection

    from puente.accounts.users import create_user
    from puente.collections import cards
    from puente.collections.mandates import sign_mandate
    from puente.enums import InstitutionKind, ProviderName, Role
    from puente.institutions.models import Institution
    from puente.ledger.balances import rebuild_balances
    from puente.loans.lifecycle import approve_loan
    from puente.loans.models import LoanProduct
    from puente.loans.origination import originate_loan, record_disbursement
    from puente.payments.gateways import store_credentials

    inst = await Institution.create(slug="bench", name="Bench", kind=InstitutionKind.LENDER)
    await store_credentials(runtime, inst.id, "stripe", STRIPE)
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
    card = await cards.save_card(gateways, ana, ProviderName.STRIPE, "tok_visa")
    await sign_mandate(runtime, ana, loan.id, card.id, origin="bench")
    await _copy_template(get_connection("default"), loan.id, ana.id, count - 1, postgres)
    # The copies' postings were written around post_entry: their balances from the postings.
    await rebuild_balances(get_connection("default"))
    return inst.id


async def _postgres_database(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drain() -> None:
    """Wait for the job's background work (AML monitoring, notices): part of the job."""
    from puente.compliance.monitoring_service import drain_monitoring
    from puente.notifications.service import drain_deliveries

    for _ in range(3):
        await drain_monitoring()
        await drain_deliveries()


def _connect(backend: str, url: str, concurrency: int) -> dict[str, Any]:
    from puente.db import tortoise_config

    config = tortoise_config(url)
    if backend == "postgres":
        credentials = config["connections"]["default"]["credentials"]
        credentials.update(minsize=1, maxsize=concurrency + 4)
        if os.environ.get("BENCH_ASYNCPG_RESET"):  # the baseline: asyncpg's own reset
            del credentials["reset"]
    return config


def _runtime_and_gateways(url: str, sandbox: Any) -> tuple[Any, Any, Any]:
    import httpx

    from puente.config import Settings, parse_encryption_keys
    from puente.payments.gateways import GatewayDirectory
    from puente.runtime import Runtime

    settings = Settings(
        database_url=url,
        secret_key="bench-secret-key-0123456789-0123456789-abcdef",
        encryption_keys=parse_encryption_keys("b1:" + "A" * 43),
    )
    runtime = Runtime.from_settings(settings, clock=lambda: NOW)
    transport = _TimedTransport(httpx.ASGITransport(app=sandbox))
    gateways = GatewayDirectory(
        runtime,
        transport_for=lambda provider: transport,
        base_url_for=lambda provider: f"http://sandbox.test/{provider}",
    )
    return runtime, gateways, transport


async def _run_shards(
    backend: str, url: str, count: int, concurrency: int, workers: int, folder: Path, sandbox: Any
) -> dict[str, Any]:
    """The job in ``workers`` processes, one shard each (``--shard k/N`` of the job). Each
    worker gets a copy of the simulator's state (the saved cards), connects, says it is
    ready; the clock starts when every one is, so the figure is the job, not the imports."""
    import pickle

    stripe = sandbox.state.simulators["stripe"]
    state = folder / "stripe.pickle"
    state.write_bytes(pickle.dumps((stripe.store._collections, stripe.state.cards)))
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--worker",
            backend,
            url,
            f"{k + 1}/{workers}",
            str(state),
            "--concurrency",
            str(concurrency),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ},
        )
        for k in range(workers)
    ]
    for child in children:
        assert child.stdout is not None
        line = await child.stdout.readline()
        assert line.strip() == b"ready", line
    for child in children:
        assert child.stdin is not None
        child.stdin.write(b"go\n")
        await child.stdin.drain()
    results = []
    for child in children:
        out, _ = await child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"worker failed ({child.returncode})")
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return {
        "reports": results,
        "rss_mb": max(r["rss_mb"] for r in results),
        "sandbox_s": sum(r["sandbox_s"] for r in results),
    }


async def _worker(backend: str, url: str, shard_text: str, state: str, concurrency: int) -> None:
    """One shard of the job, in its own process (see ``_run_shards``)."""
    import pickle

    from tortoise import Tortoise

    from puente.collections.charges import Shard
    from puente.collections.jobs import run_collections_once
    from puente_sandbox.app import create_sandbox_app

    logging.disable(logging.WARNING)
    sandbox = create_sandbox_app({"stripe": STRIPE}, None)
    stripe = sandbox.state.simulators["stripe"]
    collections, card_kinds = pickle.loads(Path(state).read_bytes())  # noqa: ASYNC240
    stripe.store._collections.update(collections)
    stripe.state.cards.update(card_kinds)
    runtime, gateways, transport = _runtime_and_gateways(url, sandbox)
    await Tortoise.init(config=_connect(backend, url, concurrency), _enable_global_fallback=True)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    began = time.perf_counter()
    report = await run_collections_once(
        runtime,
        gateways,
        DAY,
        clock=lambda: NOW,
        concurrency=concurrency if backend == "postgres" else 1,
        shard=Shard.parse(shard_text),
    )
    await _drain()
    total = time.perf_counter() - began
    await gateways.aclose()
    await Tortoise.close_connections()
    assert report is not None and not report.failures, report
    print(
        json.dumps(
            {
                "paid": report.paid,
                "total_s": total,
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "sandbox_s": transport.seconds,
            }
        )
    )


async def _one(
    backend: str, count: int, concurrency: int, folder: Path, traced: bool, workers: int = 1
) -> dict[str, float]:
    from tortoise import Tortoise

    from puente.collections.jobs import run_collections_once
    from puente.collections.models import AttemptStatus, ChargeAttempt
    from puente.db import migrate
    from puente_sandbox.app import create_sandbox_app

    logging.disable(logging.WARNING)  # one log line per charge would measure the logger
    admin = os.environ.get("PUENTE_TEST_POSTGRES_URL", "")
    name = f"puente_bench_{uuid.uuid4().hex[:10]}"
    postgres = backend == "postgres"
    if postgres:
        await _postgres_database(admin, f'CREATE DATABASE "{name}"')
        url = admin.rpartition("/")[0] + f"/{name}"
    else:
        url = f"sqlite://{folder / 'bench.sqlite3'}"
    now = NOW
    # No webhook URL: the bench measures charging (the answer is the outcome), not the inbox.
    sandbox = create_sandbox_app({"stripe": STRIPE}, None)
    runtime, gateways, transport = _runtime_and_gateways(url, sandbox)
    try:
        await migrate(url)
        await Tortoise.init(
            config=_connect(backend, url, concurrency), _enable_global_fallback=True
        )
        began = time.perf_counter()
        await _seed(runtime, gateways, count, postgres)
        seeded = time.perf_counter() - began
        if traced:
            tracemalloc.start()
        profile = None
        if os.environ.get("BENCH_PROFILE"):
            import cProfile

            profile = cProfile.Profile()
            profile.enable()
        began = time.perf_counter()
        if workers > 1:
            sharded = await _run_shards(backend, url, count, concurrency, workers, folder, sandbox)
            report = sharded["reports"]
        else:
            report = await run_collections_once(
                runtime,
                gateways,
                DAY,
                clock=lambda: now,
                concurrency=concurrency if postgres else 1,
            )
            await _drain()
        total = time.perf_counter() - began
        if profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["BENCH_PROFILE"])
        job_kept = peak = 0
        if traced:
            # What the job keeps, the simulator's own store of every charge left out (a real
            # provider keeps those on its side): flat when the job streams its batches.
            kept = tracemalloc.take_snapshot().filter_traces(
                [tracemalloc.Filter(False, "*/puente_sandbox/*")]
            )
            job_kept = sum(stat.size for stat in kept.statistics("filename"))
            if os.environ.get("BENCH_TOP"):
                for stat in kept.statistics("lineno")[:12]:
                    print(stat, file=sys.stderr)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        paid = await ChargeAttempt.filter(status=AttemptStatus.PAID).count()
        await gateways.aclose()
        await Tortoise.close_connections()
    finally:
        if postgres:
            await _postgres_database(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert report is not None and paid == count, (report, paid)
    if workers > 1:
        return {
            "seed_s": seeded,
            "total_s": total,
            "charges_per_s": count / total,
            "job_peak_mb": 0.0,
            "job_kept_mb": 0.0,
            "rss_mb": max(sharded["rss_mb"], _rss_mb()),
            "sandbox_s": sharded["sandbox_s"],
        }
    return {
        "seed_s": seeded,
        "total_s": total,
        "charges_per_s": count / total,
        "job_peak_mb": peak / 2**20,
        "job_kept_mb": job_kept / 2**20,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "sandbox_s": transport.seconds,
    }


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _TimedTransport:
    """The in-process sandbox, timed: how much of the job is the simulator's own work."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.seconds = 0.0

    async def handle_async_request(self, request: Any) -> Any:
        began = time.perf_counter()
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.seconds += time.perf_counter() - began

    async def aclose(self) -> None:
        await self.inner.aclose()


def _child(
    backend: str,
    count: int,
    concurrency: int,
    traced: bool,
    baseline: bool = False,
    workers: int = 1,
    code: str | None = None,
) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", backend, str(count)]
    command += ["--concurrency", str(concurrency), "--workers", str(workers)]
    command += ["--trace-memory"] if traced else []
    env = {**os.environ, "BENCH_ASYNCPG_RESET": "1"} if baseline else {**os.environ}
    if code is not None:  # the paired baseline: another checkout's backend first on the path
        env["PYTHONPATH"] = str(Path(code) / "backend")
    done = subprocess.run(
        command,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{backend} {count}: failed\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--trace-memory",
        action="store_true",
        help="also trace the job's allocations (tracemalloc; slows the job about 3x)",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also run each PostgreSQL size with asyncpg's default pool reset (the baseline)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the job in N processes, one shard of the loans each (the job's --workers)",
    )
    parser.add_argument(
        "--baseline-code",
        metavar="DIR",
        default=None,
        help="also run each size on the code of another checkout (DIR/backend), one process",
    )
    parser.add_argument("--one", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        backend, url, shard, state = args.worker
        asyncio.run(_worker(backend, url, shard, state, args.concurrency))
        return 0
    if args.one:
        with tempfile.TemporaryDirectory() as folder:
            figures = asyncio.run(
                _one(
                    args.one[0],
                    int(args.one[1]),
                    args.concurrency,
                    Path(folder),
                    args.trace_memory,
                    args.workers,
                )
            )
        print(json.dumps(figures))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    if "postgres" in backends and not os.environ.get("PUENTE_TEST_POSTGRES_URL"):
        print("PUENTE_TEST_POSTGRES_URL not set: PostgreSQL skipped", file=sys.stderr)
        backends.remove("postgres")
    print(
        f"{'backend':9} {'installments':>12} {'seed s':>8} {'job s':>8} {'charges/s':>10} "
        f"{'peak MB':>8} {'job kept MB':>12} {'peak RSS MB':>12} {'in sandbox s':>13}"
    )
    ok = True
    for backend in backends:
        peaks = []
        for count in sizes:
            if args.baseline_code:
                b = _child(
                    backend, count, args.concurrency, args.trace_memory, code=args.baseline_code
                )
                print(
                    f"{'(before)':9} {count:12d} {b['seed_s']:8.1f} {b['total_s']:8.1f} "
                    f"{b['charges_per_s']:10.0f} {b['job_peak_mb']:8.1f} "
                    f"{b['job_kept_mb']:12.1f} {b['rss_mb']:12.0f} {b['sandbox_s']:13.1f}",
                    flush=True,
                )
            f = _child(backend, count, args.concurrency, args.trace_memory, workers=args.workers)
            peaks.append(f["rss_mb"])
            print(
                f"{backend:9} {count:12d} {f['seed_s']:8.1f} {f['total_s']:8.1f} "
                f"{f['charges_per_s']:10.0f} {f['job_peak_mb']:8.1f} {f['job_kept_mb']:12.1f} "
                f"{f['rss_mb']:12.0f} "
                f"{f['sandbox_s']:13.1f}",
                flush=True,
            )
            if backend == "postgres":
                ok &= f["charges_per_s"] >= 200
                if args.baseline:
                    b = _child(backend, count, args.concurrency, args.trace_memory, True)
                    print(
                        f"{'(reset)':9} {count:12d} {b['seed_s']:8.1f} {b['total_s']:8.1f} "
                        f"{b['charges_per_s']:10.0f} {b['job_peak_mb']:8.1f} "
                        f"{b['job_kept_mb']:12.1f} {b['rss_mb']:12.0f} {b['sandbox_s']:13.1f}",
                        flush=True,
                    )
        # Flat: the process does not grow with the installments (traced figures also hold
        # the in-process simulator's copies of every charge, made in stdlib frames).
        ok &= max(peaks) <= 1.25 * min(peaks)
    print("targets met" if ok else "targets NOT met (≥ 200 charges/s on PostgreSQL, flat memory)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
