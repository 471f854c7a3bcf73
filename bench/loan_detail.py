"""Benchmark: loan detail cost flat in loan age (issue 15 #2, the read model).

Two loans of the same product and term (weekly, ``--term`` installments), built through the
real services (origination, approval, disbursement, ``apply_payment`` of each installment on
its due date, which bills it first): one after 1 paid installment, one after ``--paid``
(360) paid installments, both current on the bench day. The loan-detail GraphQL query
(``node(id)`` on a Loan: balance, next installment and payment due, every installment, the
payoff) is sent through the ASGI app as its borrower, alternating between the two loans.
Printed: mean and median milliseconds per request for each, their ratio (target ≤ 1.5×),
and the SQL statements per request. ``activity`` (one row per journal entry: it lists the
history) is left out of the measured query; a second line measures the same query with
``payments(first: 5)`` for context.

    .venv/bin/python bench/loan_detail.py [--database sqlite|postgres] [--paid 360]
        [--requests 200]

PostgreSQL comes from ``PUENTE_TEST_POSTGRES_URL`` (an admin URL); a throwaway database is
created and dropped. SQLite uses a temporary file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["main"]

TODAY = date(2026, 11, 26)  # a Thursday; both loans have an installment due on it
DETAIL = """query Detail($id: ID!) { node(id: $id) { ... on Loan {
  id status principal { amount } cat
  balance { total { amount } principal { amount } interest { amount } vat { amount }
    lateInterest { amount } fees { amount } advance { amount } overdue { amount }
    daysPastDue bucket }
  nextInstallment { number dueDate total { amount } paid { amount } status }
  nextPaymentDue { amount }
  installments { number dueDate status total { amount } paid { amount } outstanding { amount } }
  payoff { amount }
} } }"""
WITH_PAYMENTS = DETAIL.replace(
    "payoff { amount }",
    "payoff { amount }\n  payments(first: 5) { edges { node { id status amount { amount } } } }",
)


class _Statements(logging.Handler):
    """Counts what Tortoise's clients log at DEBUG: one record per statement sent."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


def _settings(database_url: str) -> Any:
    from puente.config import Settings, parse_encryption_keys

    key = "b1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return Settings(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        encryption_keys=parse_encryption_keys(key),
        cookie_secure=False,
    )


async def _paid_loan(product: Any, borrower_id: int, start: date, paid: int, term: int) -> Any:
    """A loan started on ``start`` whose first ``paid`` installments were paid on their due
    dates through ``apply_payment`` (each with its Payment row, as the funnel leaves it)."""
    from puente.enums import PaymentMethodType, PaymentStatus, ProviderName
    from puente.loans.application import apply_payment
    from puente.loans.lifecycle import approve_loan
    from puente.loans.models import Installment, Loan
    from puente.loans.origination import originate_loan, record_disbursement
    from puente.money import from_centavos
    from puente.payments.models import Payment

    loan = await originate_loan(
        product=product,
        borrower_id=borrower_id,
        principal=Decimal("50000.00"),
        term_count=term,
        start_date=start,
    )
    await approve_loan(loan)
    await record_disbursement(loan, on=start)
    rows = await Installment.filter(loan_id=loan.id).order_by("number").limit(paid)
    for row in rows:
        loan = await Loan.get(id=loan.id)
        key = f"bench-{loan.id}-{row.number}"
        payment = await Payment.create(
            institution_id=loan.institution_id,
            loan_id=loan.id,
            user_id=borrower_id,
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.CARD,
            amount_centavos=row.total_centavos,
            status=PaymentStatus.PAID,
            idempotency_key=key,
            request_fingerprint="bench",
        )
        await apply_payment(
            loan,
            from_centavos(row.total_centavos),
            received_on=row.due_date,
            provider=ProviderName.STRIPE,
            payment_id=payment.id,
            idempotency_key=key,
        )
    return await Loan.get(id=loan.id)


async def _measure(
    client: Any, token: str, ids: dict[str, str], query: str, requests: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Alternate the loans request by request (same noise for both); per loan, the
    milliseconds of each request and the statements of one."""
    headers = {"authorization": f"Bearer {token}"}

    async def ask(loan_id: str) -> dict[str, Any]:
        response = await client.post(
            "/graphql", json={"query": query, "variables": {"id": loan_id}}, headers=headers
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors") or not body["data"]["node"]:
            raise SystemExit(f"loan detail failed: {response.status_code} {body}")
        return body

    for _ in range(10):  # warm: caches, the session check, the connection
        for loan_id in ids.values():
            await ask(loan_id)
    for name, loan_id in ids.items():
        node = (await ask(loan_id))["data"]["node"]
        print(
            f"    ({name}: {node['status']}, next installment "
            f"{node['nextInstallment']['number']} {node['nextInstallment']['status']}, "
            f"balance {node['balance']['total']['amount']}, payoff {node['payoff']['amount']})"
        )
    logger = logging.getLogger("tortoise.db_client")
    statements: dict[str, int] = {}
    for name, loan_id in ids.items():
        counter = _Statements()
        level = logger.level
        logger.addHandler(counter)
        logger.setLevel(logging.DEBUG)
        try:
            await ask(loan_id)
        finally:
            logger.removeHandler(counter)
            logger.setLevel(level)
        statements[name] = counter.count
    times: dict[str, list[float]] = {name: [] for name in ids}
    for _ in range(requests):
        for name, loan_id in ids.items():
            began = time.perf_counter()
            await ask(loan_id)
            times[name].append((time.perf_counter() - began) * 1000)
    return times, statements


async def _run(database_url: str, paid: int, term: int, requests: int) -> None:
    import httpx

    from puente.accounts.service import AuthService
    from puente.app import create_app
    from puente.db import migrate, open_database
    from puente.enums import InstitutionKind, JournalKind, Role
    from puente.graphql.types import encode_global_id
    from puente.institutions.models import Institution
    from puente.ledger.balances import check_balances
    from puente.ledger.models import JournalEntry
    from puente.loans.models import LoanProduct
    from puente.runtime import Runtime
    from puente.security.passwords import FAST_TEST_POLICY

    await migrate(database_url)
    moment = datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=18)
    runtime = Runtime.from_settings(
        _settings(database_url), password_policy=FAST_TEST_POLICY, clock=lambda: moment
    )
    async with open_database(database_url):
        from puente.accounts.users import create_user

        inst = await Institution.create(slug="bench", name="Bench", kind=InstitutionKind.LENDER)
        ana = await create_user(
            runtime,
            institution_id=inst.id,
            email="ana@bench.mx",
            password="contrasena-segura-1",
            full_name="Ana Bench",
            role=Role.BORROWER,
        )
        product = await LoanProduct.create(
            institution_id=inst.id,
            name="Semanal",
            annual_rate=Decimal("0.36"),
            vat_rate=Decimal("0.16"),
            periodicity="WEEKLY",
        )
        began = time.perf_counter()
        new = await _paid_loan(product, ana.id, TODAY - timedelta(weeks=1), 1, term)
        old = await _paid_loan(product, ana.id, TODAY - timedelta(weeks=paid), paid, term)
        built = time.perf_counter() - began
        drift = await check_balances()
        if drift:
            raise SystemExit(f"read model drifted: {drift[:3]}")
        tokens = await AuthService(runtime).login("ana@bench.mx", "contrasena-segura-1")
        token = tokens.access_token  # type: ignore[union-attr]
        app = create_app(runtime, manage_database=False)
        ids = {
            "1 paid": encode_global_id("Loan", new.id),
            f"{paid} paid": encode_global_id("Loan", old.id),
        }
        entries = {
            n: await JournalEntry.filter(loan_id=loan.id, kind=JournalKind.PAYMENT).count()
            for n, loan in (("new", new), ("old", old))
        }
        if entries != {"new": 1, "old": paid}:
            raise SystemExit(f"payment entries not as built: {entries}")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            print(
                f"loan detail, {database_url.split(':')[0]}: weekly loans of {term} "
                f"installments, built through the services in {built:.1f} s; "
                f"{requests} requests each, alternated"
            )
            for label, query in (
                ("detail", DETAIL),
                ("detail + payments(first: 5)", WITH_PAYMENTS),
            ):
                times, statements = await _measure(client, token, ids, query, requests)
                names = list(ids)
                means = {n: statistics.fmean(times[n]) for n in names}
                medians = {n: statistics.median(times[n]) for n in names}
                print(f"  {label}:")
                for n in names:
                    print(
                        f"    {n:>9}: mean {means[n]:6.2f} ms, median {medians[n]:6.2f} ms, "
                        f"{statements[n]} statements per request"
                    )
                ratio = medians[names[1]] / medians[names[0]]
                mean_ratio = means[names[1]] / means[names[0]]
                verdict = "met" if ratio <= 1.5 else "NOT met"
                print(
                    f"    ratio {names[1]} / {names[0]}: median {ratio:.2f}x, "
                    f"mean {mean_ratio:.2f}x (target <= 1.5x: {verdict})"
                )


async def _postgres_admin(admin_url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--paid", type=int, default=360, help="installments paid on the old loan")
    parser.add_argument("--term", type=int, default=400, help="installments of each loan")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per loan")
    args = parser.parse_args(argv)
    if args.term <= args.paid:
        parser.error("--term must exceed --paid (the old loan must still be running)")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
            asyncio.run(_run(url, args.paid, args.term, args.requests))
        return 0
    admin = os.environ.get("PUENTE_TEST_POSTGRES_URL", "")
    if not admin:
        print("PUENTE_TEST_POSTGRES_URL is not set", file=sys.stderr)
        return 2
    name = f"puente_bench_{uuid.uuid4().hex[:10]}"
    asyncio.run(_postgres_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        url = f"{admin.rpartition('/')[0]}/{name}"
        asyncio.run(_run(url, args.paid, args.term, args.requests))
    finally:
        asyncio.run(_postgres_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
