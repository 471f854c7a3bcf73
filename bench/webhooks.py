"""Webhook acknowledgement against a running Puente server, paired with its own ``/healthz``.

Starts ``puente serve`` (``--workers N``) on a fresh database (SQLite file, or a throwaway
PostgreSQL database from ``PUENTE_TEST_POSTGRES_URL`` with ``--database postgres``), seeds an
institution with active loans, each with a payment awaiting its provider, and in one run
measures:

1. the bare ``/healthz`` rate of that server (closed loop, ``--concurrency`` keep-alive
   connections), the baseline;
2. the peak acknowledgement rate: signed Stripe events sent as fast as the server answers
   them on the same connections; the ratio to ``/healthz`` is the figure that counts;
3. latency at a fixed rate (``--rate``, open loop: an event is due at its slot and waiting
   for the server counts), p50 and p99;
4. nothing lost: every event answered 2xx is in ``provider_events`` (checked by id);
5. the same ``/healthz`` rate again once the queue has been processed (a second baseline,
   so a machine that got busier during the run shows).

    .venv/bin/python bench/webhooks.py [--database sqlite|postgres] [--workers 1]
        [--peak-events 4000] [--events 3000] [--rate 1000] [--concurrency 32]
        [--mix payments|echoes] [--webhook-worker process|inline]

``--webhook-worker process`` (the default) runs the server as it runs where Redis is set:
its webhook worker in a ``puente worker`` process of its own (Redis from
``PUENTE_TEST_REDIS_URL``); ``inline`` applies in the server process(es), as before.

Target (issue 15 #4): peak >= 0.2x /healthz; p99 <= 50 ms at 1,000/s; 0 lost; on SQLite
and on PostgreSQL with 2 workers. ``--profile FILE`` runs a single-worker server under
cProfile and writes its stats to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from puente.providers.stripe_webhooks import stripe_signature_header

WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"
TARGET_RATIO = 0.2
TARGET_P99_MS = 50.0

# Stripe sends several events per payment: two are echoes (stored as noise), one moves it.
EVENT_CYCLE = ("payment_intent.created", "charge.succeeded", "payment_intent.succeeded")
# ``--mix echoes``: only the echoes, so the inbox worker has nothing to apply and the run
# measures acknowledgement alone (the default mix also has the worker applying payments
# in the same process, as ``puente serve`` runs it).
MIXES = {"payments": EVENT_CYCLE, "echoes": EVENT_CYCLE[:2]}
_types = EVENT_CYCLE


def _event(n: int) -> bytes:
    payment = n // len(EVENT_CYCLE)
    return json.dumps(
        {
            "id": f"evt_bench_{n:08d}",
            "object": "event",
            "type": _types[n % len(_types)],
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": _reference(payment),
                    "object": "payment_intent",
                    "amount": 10000,
                    "currency": "mxn",
                    "status": "succeeded",
                }
            },
        }
    ).encode()


def _reference(payment: int) -> str:
    """The provider's id of the bench's payment number ``payment`` (one per loan: the
    template's, then its copies' as ``bench/apply.py``'s copier names them)."""
    return "pi_bench" if payment == 0 else f"pi_bench-{payment}"


def _signed(n: int) -> tuple[bytes, dict[str, str]]:
    body = _event(n)
    return body, {
        "stripe-signature": stripe_signature_header(body, WEBHOOK_SECRET, int(time.time())),
        "Content-Type": "application/json",
    }


class Connection:
    """A minimal keep-alive HTTP/1.1 client: httpx's pool, not the server, would be measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        await self.writer.drain()
        assert self.reader is not None
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    async def post_event(self, n: int) -> int:
        body, headers = _signed(n)
        try:
            return await self.request("POST", "/webhooks/stripe", body, headers)
        except (OSError, asyncio.IncompleteReadError, IndexError, ValueError):
            self.close()
            return 0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Tally:
    """Which events were answered how, and how long each took."""

    def __init__(self) -> None:
        self.acked: set[int] = set()
        self.failed = 0
        self.latencies: list[float] = []

    def record(self, n: int, status: int, latency: float | None = None) -> None:
        if status == 200:
            self.acked.add(n)
        else:
            self.failed += 1
        if latency is not None:
            self.latencies.append(latency)


async def _healthz_rate(port: int, conc: int, seconds: float = 3.0) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        conn = Connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            await conn.request("GET", "/healthz")
            done += 1
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(conc)])
    return done / (time.perf_counter() - began)


async def _peak(port: int, first: int, count: int, conc: int, tally: Tally) -> float:
    """Events ``first .. first+count-1`` as fast as the server answers; events/s acked."""
    numbers = iter(range(first, first + count))

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        for n in numbers:
            tally.record(n, await conn.post_event(n))
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(conc)])
    return count / (time.perf_counter() - began)


async def _paced(port: int, first: int, count: int, rate: float, conc: int, tally: Tally) -> float:
    """Events at ``rate``/s, each timed from its due moment; returns the rate achieved."""
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        while (item := await queue.get()) is not None:
            n, due = item
            status = await conn.post_event(n)
            tally.record(n, status, time.perf_counter() - due)
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(conc)]
    began = time.perf_counter()
    for i in range(count):
        due = began + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((first + i, due))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return count / (time.perf_counter() - began)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


# -- the server and its database ------------------------------------------------------------


async def _postgres_admin(sql: str) -> None:
    import asyncpg

    admin = os.environ["PUENTE_TEST_POSTGRES_URL"]
    conn = await asyncpg.connect(admin.replace("asyncpg://", "postgresql://"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed(url: str, payments: int) -> None:
    """An institution taking the env credentials and ``payments`` active loans, each with a
    payment awaiting its provider's confirmation, so events are processed as in production.

    One loan is built through the services and copied (``bench/apply.py``'s copier): a
    payment per loan, as a lender's inbox has them. (Until 2026-12-05 every payment was on
    one loan, whose application cost grew with its thousands of payments.)
    """
    from apply import COPIED, _uniquify
    from loan_copies import copy_rows
    from tortoise import Tortoise
    from tortoise.connection import get_connection

    from puente.accounts.models import User
    from puente.db import is_postgres, migrate, tortoise_config
    from puente.enums import InstitutionKind, PaymentMethodType, ProviderName, Role
    from puente.enums import PaymentStatus as S
    from puente.institutions.models import Institution
    from puente.ledger.balances import rebuild_balances
    from puente.loans.lifecycle import approve_loan
    from puente.loans.models import LoanProduct
    from puente.loans.origination import originate_loan, record_disbursement
    from puente.payments.models import Payment

    await migrate(url)
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)
    try:
        inst = await Institution.create(
            slug="bench",
            name="Bench",
            kind=InstitutionKind.LENDER,
            settings={"env_credentials": True},
        )
        user = await User.create(
            institution_id=inst.id,
            email="bench@example.mx",
            full_name="Ana Bench",
            role=Role.BORROWER,
            password_hash="x",
        )
        product = await LoanProduct.create(
            institution_id=inst.id, name="p", annual_rate=Decimal("0.36"), vat_rate=Decimal("0.16")
        )
        start = date(2026, 11, 2)
        loan = await originate_loan(
            product=product,
            borrower_id=user.id,
            principal=Decimal("12000.00"),
            term_count=12,
            start_date=start,
        )
        await approve_loan(loan)
        await record_disbursement(loan, on=start)
        await Payment.create(
            institution_id=inst.id,
            loan_id=loan.id,
            user_id=user.id,
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.SPEI,
            amount_centavos=10000,
            status=S.REQUIRES_ACTION,
            idempotency_key="bench",
            request_fingerprint="bench",
            provider_reference=_reference(0),
        )
        conn = get_connection("default")
        copied = [
            (table, rule.format(loan=loan.id, user=user.id), refs)
            for table, rule, refs in COPIED
            if table != "provider_events"  # the events are what the bench sends
        ]
        await copy_rows(conn, copied, payments - 1, _uniquify(loan.id), postgres=is_postgres(url))
        await rebuild_balances(conn)  # the copies' postings were written around post_entry
        await conn.execute_script("ANALYZE")
    finally:
        await Tortoise.close_connections()


async def _count(url: str, sql: str) -> Any:
    from tortoise import Tortoise
    from tortoise.connection import get_connection

    from puente.db import tortoise_config

    await Tortoise.init(config=tortoise_config(url))
    try:
        _, rows = await get_connection("default").execute_query(sql)
        return [tuple(row.values()) if hasattr(row, "values") else tuple(row) for row in rows]
    finally:
        await Tortoise.close_connections()


# uvicorn re-raises SIGTERM once shut down: a no-op handler lets the stats be written.
PROFILED_SERVER = """
import cProfile, signal, sys
from puente.cli import main
signal.signal(signal.SIGTERM, lambda *_: None)
profile = cProfile.Profile()
profile.enable()
try:
    main(sys.argv[2:])
finally:
    profile.disable()
    profile.dump_stats(sys.argv[1])
"""


def _start_server(
    port: int, url: str, workers: int, profile: str | None, webhook_worker: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PUENTE_DATABASE_URL": url,
        "PUENTE_SECRET_KEY": secrets.token_urlsafe(48),
        "PUENTE_ENCRYPTION_KEYS": "b1:"
        + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "PUENTE_STRIPE_SECRET_KEY": "sk_test_bench",
        "PUENTE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "PUENTE_LOG_LEVEL": "warning",
        "PUENTE_ACCESS_LOG": "0",
    }
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    if profile:
        command = [sys.executable, "-c", PROFILED_SERVER, profile, *serve]
    else:
        command = [str(Path(sys.executable).with_name("puente")), *serve]
    if webhook_worker == "process":
        redis = os.environ.get("PUENTE_TEST_REDIS_URL", "")
        if not redis:
            raise SystemExit("--webhook-worker process needs PUENTE_TEST_REDIS_URL (Redis)")
        env.update(PUENTE_REDIS_URL=redis, PUENTE_WEBHOOK_WORKER="process")
    else:
        env.pop("PUENTE_REDIS_URL", None)
        env["PUENTE_WEBHOOK_WORKER"] = "inline"
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("server did not start")


async def _wait_processed(url: str, payments: int, limit: float) -> tuple[int, float]:
    """Payments applied, and seconds until all were (or ``limit``)."""
    began = time.perf_counter()
    paid = 0
    while time.perf_counter() - began < limit:
        [(paid,)] = await _count(url, "SELECT count(*) FROM payments WHERE status='paid'")
        if paid >= payments:
            break
        await asyncio.sleep(0.5)
    return paid, time.perf_counter() - began


async def run(args: argparse.Namespace, folder: Path) -> bool:
    total = args.peak_events + args.events
    # Every third event moves a payment: a payment per cycle.
    payments = (total + len(EVENT_CYCLE) - 1) // len(EVENT_CYCLE)
    name = f"puente_bench_{uuid.uuid4().hex[:10]}"
    if args.database == "postgres":
        admin = os.environ.get("PUENTE_TEST_POSTGRES_URL", "")
        if not admin:
            raise SystemExit("--database postgres needs PUENTE_TEST_POSTGRES_URL (an admin URL)")
        await _postgres_admin(f'CREATE DATABASE "{name}"')
        url = admin.rpartition("/")[0] + f"/{name}"
    else:
        url = f"sqlite://{folder / 'bench.sqlite3'}"
    try:
        await _seed(url, payments)
        server = _start_server(args.port, url, args.workers, args.profile, args.webhook_worker)
        tally = Tally()
        try:
            health_before = await _healthz_rate(args.port, args.concurrency)
            peak = await _peak(args.port, 0, args.peak_events, args.concurrency, tally)
            peak_failed = tally.failed
            achieved = await _paced(
                args.port, args.peak_events, args.events, args.rate, args.concurrency, tally
            )
            # One succeeded event per full cycle sent (the last payment may get none).
            expected = total // len(EVENT_CYCLE) if args.mix == "payments" else 0
            paid, drained = await _wait_processed(url, expected, args.drain_limit)
            health_after = await _healthz_rate(args.port, args.concurrency)
        finally:
            server.terminate()
            server.wait(timeout=30)
        stored_ids = await _count(url, "SELECT event_id FROM provider_events")
        [(paid,)] = await _count(url, "SELECT count(*) FROM payments WHERE status='paid'")
        [(entries,)] = await _count(
            url, "SELECT count(*) FROM journal_entries WHERE kind='payment'"
        )
    finally:
        if args.database == "postgres":
            await _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    stored = {int(event_id.removeprefix("evt_bench_")) for (event_id,) in stored_ids}
    lost = len(tally.acked - stored)
    health = (health_before + health_after) / 2
    ratio = peak / health
    p99 = _pct(tally.latencies, 0.99)
    label = (
        f"{args.database}, {args.workers} server worker{'s' if args.workers > 1 else ''}, "
        f"webhook worker {args.webhook_worker}"
    )
    print(f"== bench/webhooks.py: {label}, {args.concurrency} connections, {args.mix} ==")
    print(
        f"/healthz (baseline)      {health:,.0f} r/s "
        f"(before {health_before:,.0f}, after {health_after:,.0f})"
    )
    print(
        f"peak acknowledgement     {peak:,.0f} events/s over {args.peak_events} events "
        f"({peak_failed} not 2xx)"
    )
    print(f"ratio to /healthz        {ratio:.3f}x  (target >= {TARGET_RATIO}x)")
    print(
        f"paced                    {args.events} events at {args.rate:,.0f}/s "
        f"(achieved {achieved:,.0f}/s), {tally.failed - peak_failed} not 2xx"
    )
    print(
        f"ack latency at pace      p50 {_pct(tally.latencies, 0.5):.1f} ms, "
        f"p99 {p99:.1f} ms, mean {statistics.fmean(tally.latencies) * 1000:.1f} ms, "
        f"max {max(tally.latencies) * 1000:.1f} ms  (target p99 <= {TARGET_P99_MS:.0f} ms)"
    )
    print(
        f"stored / acknowledged    {len(stored)} / {len(tally.acked)} of {total} sent; "
        f"lost (2xx but not stored) {lost}"
    )
    print(
        f"payments applied         {paid} of {total // len(EVENT_CYCLE)} sent "
        f"({entries} ledger entries); "
        f"{drained:.1f} s after the last event, or at the end where later "
        "(processing, not part of this target)"
    )
    met = ratio >= TARGET_RATIO and p99 <= TARGET_P99_MS and lost == 0 and tally.failed == 0
    print(f"target                   {'MET' if met else 'NOT MET'}")
    return met


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--peak-events", type=int, default=4000)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=8917)
    parser.add_argument("--mix", choices=tuple(MIXES), default="payments")
    parser.add_argument("--drain-limit", type=float, default=60.0)
    parser.add_argument(
        "--webhook-worker",
        choices=("process", "inline"),
        default="process",
        help="PUENTE_WEBHOOK_WORKER of the server (process: with Redis from "
        "PUENTE_TEST_REDIS_URL, as `puente serve` runs where Redis is set)",
    )
    parser.add_argument("--profile", help="cProfile the (single-worker) server into this file")
    args = parser.parse_args()
    if args.profile and args.workers != 1:
        raise SystemExit("--profile needs --workers 1")
    global _types
    _types = MIXES[args.mix]
    with tempfile.TemporaryDirectory() as tmp:
        await run(args, Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
