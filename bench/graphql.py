"""The borrower dashboard over GraphQL against a raw Starlette endpoint (issue 15 #1).

Both answer the same borrower's dashboard from the same rows through the same ORM and the
same read model (``loans.state.load_loan_views``): the raw endpoint is a plain Starlette
route, added to the same app behind the same middleware, that reads the rows and builds
the JSON by hand. The bench first checks that the two answers are equal (so the raw side
does no less work than it should), then counts the SQL statements of one request of each
and measures requests per second, one request of each side in turn so both see the same
machine load. In process (``httpx.ASGITransport``), one request at a time: what is
compared is the server's own work, with no network in between.

    .venv/bin/python bench/graphql.py [--sizes 1,10,50] [--seconds 10]
        [--database postgres://postgres@127.0.0.1:5432/postgres]

Each borrower has ``size`` loans, each started 45 days ago with its first installment paid
through the ledger (``apply_payment``) and one declined card payment. Targets (issue 15):
the dashboard at >= 0.6x the raw endpoint at every size, <= 6 statements, constant.

This script may be named ``graphql.py``: it takes ``bench/`` off ``sys.path`` before any
import (a script's own folder comes first there, where this file would shadow graphql-core),
and if a sibling script imports ``graphql`` while ``bench/`` is first on the path it hands
that import over to graphql-core (just below).
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.realpath(__file__))


def _without_bench_dir() -> None:
    sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.curdir) != _HERE]


_without_bench_dir()
if __name__ != "__main__":  # imported as ``graphql`` by a script of bench/
    import importlib

    # Be graphql-core instead: the import system hands out whatever sys.modules holds
    # under the name once this file has run. Below, only ``__main__`` imports anything
    # (strawberry, mid-way through importing graphql, must not be imported again).
    del sys.modules[__name__]
    sys.modules[__name__] = importlib.import_module(__name__)


import argparse  # noqa: E402
import asyncio  # noqa: E402
import base64  # noqa: E402
import logging  # noqa: E402
import secrets  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

if __name__ == "__main__":  # only when run: imported as ``graphql``, none of this may run
    import httpx
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from puente.accounts.access import authorized_user
    from puente.accounts.service import AuthService
    from puente.accounts.users import create_user
    from puente.app import create_app
    from puente.config import Settings, parse_encryption_keys
    from puente.db import migrate, open_database
    from puente.enums import (
        InstitutionKind,
        PaymentMethodType,
        PaymentStatus,
        ProviderName,
        Role,
    )
    from puente.graphql.paging import cursor
    from puente.graphql.values import encode_global_id
    from puente.institutions.models import Institution
    from puente.loans.access import visible_loans
    from puente.loans.application import apply_payment
    from puente.loans.lifecycle import approve_loan
    from puente.loans.models import LoanProduct
    from puente.loans.origination import originate_loan, record_disbursement
    from puente.loans.state import InstallmentView, LoanView, load_loan_views
    from puente.money import format_mxn, from_centavos, round_centavos
    from puente.payments.failure_messages import failure_message
    from puente.payments.history import visible_payments
    from puente.payments.models import Payment
    from puente.runtime import Runtime
    from puente.security.passwords import FAST_TEST_POLICY
    from puente.security.tokens import bearer_token

PASSWORD = "contrasena-segura-1"
LOANS_PAGE = 50
PAYMENTS_PAGE = 10

DASHBOARD = """query Dashboard {
  viewer {
    user { id email fullName }
    loans(first: 50) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node {
      id status displayName institutionName principal { amount currency }
      balance { total { amount currency } principal { amount } interest { amount }
        vat { amount } lateInterest { amount } fees { amount } overdue { amount }
        daysPastDue bucket }
      nextInstallment { number dueDate total { amount } paid { amount }
        outstanding { amount } status }
      nextPaymentDue { amount } } } }
    payments(first: 10) { edges { node {
      id status amount { amount } method provider createdAt failureMessage
      loan { id displayName } } } }
  }
}"""


# -- the raw endpoint -----------------------------------------------------------------------


def _amount(value: Decimal) -> dict[str, str]:
    return {"amount": str(round_centavos(value))}


def _installment(view: InstallmentView) -> dict[str, Any]:
    return {
        "number": view.number,
        "dueDate": view.due_date.isoformat(),
        "total": _amount(view.total),
        "paid": _amount(view.paid),
        "outstanding": _amount(view.outstanding),
        "status": view.status.value,
    }


def _display_name(loan: Any) -> str:
    return f"{loan.product.name} de {format_mxn(from_centavos(loan.principal_centavos))}"


def _loan(view: LoanView) -> dict[str, Any]:
    loan, balance = view.loan, view.balance
    upcoming, due = view.next_installment, view.next_payment_due
    return {
        "cursor": cursor(loan.id),
        "node": {
            "id": encode_global_id("Loan", loan.id),
            "status": str(getattr(loan.status, "value", loan.status)).upper(),
            "displayName": _display_name(loan),
            "institutionName": loan.institution.name,
            "principal": {
                **_amount(from_centavos(loan.principal_centavos)),
                "currency": "MXN",
            },
            "balance": {
                "total": {**_amount(balance.total), "currency": "MXN"},
                "principal": _amount(balance.principal),
                "interest": _amount(balance.interest),
                "vat": _amount(balance.vat),
                "lateInterest": _amount(balance.late_interest),
                "fees": _amount(balance.fees),
                "overdue": _amount(balance.overdue),
                "daysPastDue": balance.days_past_due,
                "bucket": balance.bucket.value,
            },
            "nextInstallment": _installment(upcoming) if upcoming else None,
            "nextPaymentDue": _amount(due) if due is not None else None,
        },
    }


def _payment(payment: Payment) -> dict[str, Any]:
    return {
        "node": {
            "id": encode_global_id("Payment", payment.id),
            "status": str(getattr(payment.status, "value", payment.status)).upper(),
            "amount": _amount(from_centavos(payment.amount_centavos)),
            "method": str(getattr(payment.method, "value", payment.method)).upper(),
            "provider": str(getattr(payment.provider, "value", payment.provider)).upper(),
            "createdAt": payment.created_at.isoformat(),
            "failureMessage": failure_message(payment.failure_code),
            "loan": {
                "id": encode_global_id("Loan", payment.loan_id),
                "displayName": _display_name(payment.loan),
            },
        }
    }


def raw_route(runtime: Runtime) -> Route:
    """The same dashboard as one hand-written Starlette route (no GraphQL)."""
    auth = AuthService(runtime)

    async def dashboard(request: Request) -> JSONResponse:
        token = bearer_token(request.headers.get("authorization"))
        user = authorized_user(await auth.authenticate(token))
        if user is None:
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        loans = list(
            await visible_loans(user)
            .order_by("id")
            .limit(LOANS_PAGE + 1)
            .select_related("product", "institution")
        )
        more = len(loans) > LOANS_PAGE
        loans = loans[:LOANS_PAGE]
        total = await visible_loans(user).count() if more else len(loans)
        views = await load_loan_views(loans, runtime.today())
        payments = (
            await visible_payments(user)
            .order_by("-id")
            .limit(PAYMENTS_PAGE)
            .select_related("loan__product")
        )
        body = {
            "viewer": {
                "user": {
                    "id": encode_global_id("User", user.id),
                    "email": user.email,
                    "fullName": user.full_name,
                },
                "loans": {
                    "totalCount": total,
                    "pageInfo": {
                        "hasNextPage": more,
                        "endCursor": cursor(loans[-1].id) if loans else None,
                    },
                    "edges": [_loan(view) for view in views],
                },
                "payments": {"edges": [_payment(p) for p in payments]},
            }
        }
        return JSONResponse(body)

    return Route("/bench/dashboard", dashboard)


# -- set-up ---------------------------------------------------------------------------------


def _settings(database_url: str) -> Settings:
    key = "t1:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    return Settings(
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        encryption_keys=parse_encryption_keys(key),
        cookie_secure=False,
    )


async def _borrower(runtime: Runtime, size: int) -> str:
    """A borrower with ``size`` loans as described above; returns an access token."""
    today = runtime.today()
    start = today - timedelta(days=45)
    inst = await Institution.create(
        slug=f"financiera-{size}", name=f"Financiera {size}", kind=InstitutionKind.LENDER
    )
    email = f"ana{size}@example.mx"
    borrower = await create_user(
        runtime,
        institution_id=inst.id,
        email=email,
        password=PASSWORD,
        full_name="Ana Prueba",
        role=Role.BORROWER,
    )
    product = await LoanProduct.create(
        institution_id=inst.id,
        name="Préstamo personal",
        annual_rate=Decimal("0.36"),
        vat_rate=Decimal("0.16"),
        opening_fee_rate=Decimal("0"),
    )
    for n in range(size):
        loan = await originate_loan(
            product=product,
            borrower_id=borrower.id,
            principal=Decimal(12000 + 100 * n),
            term_count=12,
            start_date=start,
        )
        await approve_loan(loan)
        await record_disbursement(loan, on=start)
        (view,) = await load_loan_views([loan], start + timedelta(days=31))
        first = view.installments[0].total
        paid = await _payment_row(loan, f"ok-{size}-{n}", first, PaymentStatus.PAID)
        await apply_payment(
            loan,
            first,
            received_on=view.installments[0].due_date,
            provider=ProviderName.STRIPE,
            payment_id=paid.id,
            idempotency_key=f"bench-{size}-{n}",
        )
        await _payment_row(loan, f"no-{size}-{n}", first, PaymentStatus.FAILED, "card_declined")
    tokens = await AuthService(runtime).login(email, PASSWORD)
    return tokens.access_token  # type: ignore[union-attr]


async def _payment_row(
    loan: Any, key: str, amount: Decimal, status: PaymentStatus, failure: str | None = None
) -> Payment:
    return await Payment.create(
        institution_id=loan.institution_id,
        loan_id=loan.id,
        user_id=loan.borrower_id,
        provider=ProviderName.STRIPE,
        method=PaymentMethodType.CARD,
        amount_centavos=int(amount * 100),
        status=status,
        idempotency_key=key,
        request_fingerprint="bench",
        failure_code=failure,
    )


# -- measuring ------------------------------------------------------------------------------


class _Statements(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


async def _statements(call: Any) -> int:
    logger = logging.getLogger("tortoise.db_client")
    handler, level = _Statements(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        await call()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return handler.count


async def _alternating(calls: dict[str, Any], seconds: float, least: int) -> dict[str, list]:
    """One request of each side in turn until ``seconds`` have passed (and each side did
    ``least``): both see the same machine, whatever else runs on it meanwhile. Returns
    per side [requests, wall seconds, CPU seconds], summed over its own requests only."""
    totals: dict[str, list] = {name: [0, 0.0, 0.0] for name in calls}
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or min(t[0] for t in totals.values()) < least:
        for name, call in calls.items():
            wall, cpu = time.perf_counter(), time.process_time()
            await call()
            totals[name][0] += 1
            totals[name][1] += time.perf_counter() - wall
            totals[name][2] += time.process_time() - cpu
    return totals


async def _measure(
    runtime: Runtime, sizes: list[int], seconds: float, profile: str | None = None
) -> list:
    tokens = {size: await _borrower(runtime, size) for size in sizes}
    # One server: the raw route sits in the app itself, behind the same middleware.
    app = create_app(runtime, manage_database=False)
    app.router.routes.insert(0, raw_route(runtime))
    base = "http://bench"
    rows = []
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as gql,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base) as plain,
    ):
        for size in sizes:
            headers = {"authorization": f"Bearer {tokens[size]}"}

            async def graphql_request(headers: dict = headers) -> dict:
                response = await gql.post("/graphql", json={"query": DASHBOARD}, headers=headers)
                answer = response.json()
                assert response.status_code == 200 and "errors" not in answer, answer
                return answer["data"]

            async def raw_request(headers: dict = headers) -> dict:
                response = await plain.get("/bench/dashboard", headers=headers)
                assert response.status_code == 200, response.text
                return response.json()

            ours, theirs = await graphql_request(), await raw_request()
            if ours != theirs:
                raise SystemExit(f"{size} loans: the two answers differ:\n{ours}\n{theirs}")
            assert len(ours["viewer"]["loans"]["edges"]) == min(size, LOANS_PAGE)
            counts = (await _statements(graphql_request), await _statements(raw_request))
            done = await _alternating(
                {"graphql": graphql_request, "raw": raw_request}, seconds, least=5
            )
            wall = {name: n / elapsed for name, (n, elapsed, _) in done.items()}
            per_cpu = {name: n / cpu for name, (n, _, cpu) in done.items()}
            rows.append(
                (
                    size,
                    wall["graphql"],
                    wall["raw"],
                    *counts,
                    per_cpu["graphql"],
                    per_cpu["raw"],
                )
            )
            if profile:
                await _profile(graphql_request if profile == "graphql" else raw_request)
    return rows


async def _profile(call: Any, requests: int = 20) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await call()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)


async def _main(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        if args.database:
            import asyncpg

            name = f"bench_graphql_{uuid.uuid4().hex[:8]}"
            admin = args.database.replace("asyncpg://", "postgresql://")
            server = await asyncpg.connect(admin)
            await server.execute(f'CREATE DATABASE "{name}"')
            url = args.database.rpartition("/")[0] + "/" + name
        else:
            url = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
        try:
            await migrate(url)
            runtime = Runtime.from_settings(_settings(url), password_policy=FAST_TEST_POLICY)
            async with open_database(url):
                rows = await _measure(runtime, sizes, args.seconds, args.profile)
        finally:
            if args.database:
                await server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                await server.close()
    backend = "postgres" if args.database else "sqlite"
    print(
        f"borrower dashboard, {backend}; python {sys.version.split()[0]}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "loans  graphql r/s  raw r/s  ratio | per CPU-s: graphql  raw  ratio | statements"
        " (graphql/raw)"
    )
    for size, ours, theirs, ours_statements, raw_statements, ours_cpu, raw_cpu in rows:
        ratio = ours / theirs
        verdict = "met" if ratio >= 0.6 and ours_statements <= 6 else "NOT met"
        print(
            f"{size:5d}  {ours:11.1f}  {theirs:7.1f}  {ratio:5.2f} | {ours_cpu:16.1f}"
            f"  {raw_cpu:5.1f}  {ours_cpu / raw_cpu:5.2f} | {ours_statements:3d} / "
            f"{raw_statements:<3d}  {verdict}"
        )
    if len({row[3] for row in rows}) != 1:
        print("statements are NOT constant in the number of loans")
    print(
        "(per CPU-s: requests per second of this process's CPU time, which other jobs on a"
        " shared machine do not inflate; on SQLite the database work is in this process)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument("--seconds", type=float, default=10.0, help="per size, both sides")
    parser.add_argument("--profile", choices=["graphql", "raw"], help="cProfile one side")
    parser.add_argument("--database", help="PostgreSQL admin URL (default: a SQLite file)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
