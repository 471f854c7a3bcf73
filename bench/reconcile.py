"""Benchmark: import + match + book bank statements against as many expected payments.

Run with ``.venv/bin/python bench/reconcile.py [--sizes 10000,100000,1000000]
[--backends sqlite,postgres]`` (PostgreSQL from ``PUENTE_TEST_POSTGRES_URL``, an admin URL;
a throwaway database is created and dropped per run). For each backend and size a child
process seeds N paid SPEI payments (each with its clave de rastreo), writes a CAMT.053 of N
lines that pays them, and reports: the time to merely parse the file, the time to import +
match + book it, the child's peak RSS, and the per-line cost. Targets (issue 11): import +
match + book within 3x the parse time, peak RSS <= 1 GB at 1M lines, per-line cost flat
(<= 1.5x from the smallest size to the largest). ``BENCH_PROFILE=FILE`` with ``--one BACKEND
SIZE`` writes a cProfile of the import + match + book to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

__all__ = ["main"]

DAY = date(2026, 11, 20)
SEED_BATCH = 5_000


async def _seed(count: int) -> int:
    from puente.accounts.models import User
    from puente.enums import InstitutionKind, LoanStatus, PaymentMethodType, ProviderName, Role
    from puente.enums import PaymentStatus as S
    from puente.institutions.models import Institution
    from puente.loans.models import Loan, LoanProduct
    from puente.payments.models import Payment

    inst = await Institution.create(slug="bench", name="Bench", kind=InstitutionKind.LENDER)
    user = await User.create(
        institution_id=inst.id,
        email="bench@example.mx",
        full_name="Ana Bench",
        role=Role.BORROWER,
        password_hash="x",
    )
    product = await LoanProduct.create(institution_id=inst.id, name="p", annual_rate="0.36")
    loan = await Loan.create(
        institution_id=inst.id,
        borrower_id=user.id,
        product_id=product.id,
        status=LoanStatus.ACTIVE,
        principal_centavos=10**12,
        annual_rate="0.36",
        vat_rate="0.16",
        term_count=12,
        periodicity="MONTHLY",
        method="FRENCH",
        day_count="PERIODIC",
        start_date=DAY,
    )
    paid_at = datetime(2026, 11, 20, 18, tzinfo=UTC)
    for start in range(0, count, SEED_BATCH):
        await Payment.bulk_create(
            [
                Payment(
                    institution_id=inst.id,
                    loan_id=loan.id,
                    user_id=user.id,
                    provider=ProviderName.STP,
                    method=PaymentMethodType.SPEI,
                    amount_centavos=100_00 + i,
                    status=S.PAID,
                    idempotency_key=f"b{i}",
                    request_fingerprint="b",
                    provider_reference=f"abono:BENCH{i:09d}",
                    paid_at=paid_at,
                )
                for i in range(start, min(count, start + SEED_BATCH))
            ]
        )
    return inst.id


def _write_statement(path: Path, count: int) -> None:
    from puente.reconciliation.enums import Direction
    from puente.reconciliation.samples import Movement, write_camt053

    movements = (
        Movement(
            direction=Direction.CREDIT,
            amount=Decimal(100_00 + i) / 100,
            booking_date=DAY,
            value_date=DAY,
            clave_rastreo=f"BENCH{i:09d}",
            concept="SPEI RECIBIDO",
            bank_reference=f"AS{i:09d}",
        )
        for i in range(count)
    )
    with path.open("w", encoding="utf-8") as out:
        write_camt053(out, movements, account="646180157000000004", statement_id="BENCH")


async def _postgres_database(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _one(backend: str, count: int, folder: Path) -> dict[str, float]:
    from tortoise import Tortoise

    from puente.config import Settings, development_settings
    from puente.db import migrate, tortoise_config
    from puente.reconciliation.importers import read_statement
    from puente.reconciliation.service import import_and_reconcile
    from puente.runtime import Runtime

    admin = os.environ.get("PUENTE_TEST_POSTGRES_URL", "")
    name = f"puente_bench_{uuid.uuid4().hex[:10]}"
    if backend == "postgres":
        await _postgres_database(admin, f'CREATE DATABASE "{name}"')
        url = admin.rpartition("/")[0] + f"/{name}"
    else:
        url = f"sqlite://{folder / 'bench.sqlite3'}"
    try:
        await migrate(url)
        await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
        institution_id = await _seed(count)
        statement = folder / "statement.xml"
        _write_statement(statement, count)
        began = time.perf_counter()
        parsed = sum(1 for _ in read_statement(statement, "camt053"))
        parse = time.perf_counter() - began
        # The runtime (keys, settings) is the process's, not the statement's: made before timing.
        runtime = Runtime.from_settings(development_settings(Settings(database_url=url), folder))
        began = time.perf_counter()
        profile = os.environ.get("BENCH_PROFILE")
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        summary = await import_and_reconcile(
            runtime, institution_id, statement, "camt053", at=datetime(2026, 11, 21, tzinfo=UTC)
        )
        total = time.perf_counter() - began
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(str(profile))
        await Tortoise.close_connections()
    finally:
        if backend == "postgres":
            await _postgres_database(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert parsed == count and summary.matched == count, summary
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "parse_s": parse,
        "total_s": total,
        "rss_mb": rss_mb,
        "per_line_us": total / count * 1e6,
    }


def _child(backend: str, count: int) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, __file__, "--one", backend, str(count)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{backend} {count}: failed\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--one", nargs=2, metavar=("BACKEND", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory() as folder:
            figures = asyncio.run(_one(args.one[0], int(args.one[1]), Path(folder)))
        print(json.dumps(figures))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    if "postgres" in backends and not os.environ.get("PUENTE_TEST_POSTGRES_URL"):
        print("PUENTE_TEST_POSTGRES_URL not set: PostgreSQL skipped", file=sys.stderr)
        backends.remove("postgres")
    print(
        f"{'backend':9} {'lines':>9} {'parse s':>9} {'import+match+book s':>20} "
        f"{'x parse':>8} {'peak RSS MB':>12} {'µs/line':>9}"
    )
    ok = True
    for backend in backends:
        first_cost = None
        for count in sizes:
            f = _child(backend, count)
            ratio = f["total_s"] / f["parse_s"]
            first_cost = first_cost or f["per_line_us"]
            print(
                f"{backend:9} {count:9d} {f['parse_s']:9.2f} {f['total_s']:20.2f} "
                f"{ratio:8.1f} {f['rss_mb']:12.0f} {f['per_line_us']:9.0f}"
            )
            ok &= ratio <= 3 and f["rss_mb"] <= 1024 and f["per_line_us"] <= 1.5 * first_cost
    print(
        "targets met"
        if ok
        else "targets NOT met (import+match+book <= 3x parse, RSS <= 1 GB, per-line cost <= 1.5x)"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
