"""Webhook acknowledgement throughput and latency against a running Puente server.

Starts `puente serve` on a fresh SQLite database (or uses --url), sends signed Stripe events
at a target rate, and prints acknowledged events/s, p50/p99 acknowledgement latency, how many
were stored (nothing may be lost), and the same server's bare /healthz rate for scale.

    .venv/bin/python bench/webhooks.py [--events 3000] [--rate 300] [--concurrency 64]

Target (issue 5): p99 acknowledgement under 50 ms at 300 events/s on SQLite, nothing lost.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from puente.providers.stripe_webhooks import stripe_signature_header

WEBHOOK_SECRET = "whsec_bench_0123456789abcdef"


# Stripe sends several events per payment: two are echoes (stored as noise), one moves it.
EVENT_CYCLE = ("payment_intent.created", "charge.succeeded", "payment_intent.succeeded")


def _event(n: int) -> bytes:
    payment = n // len(EVENT_CYCLE)
    return json.dumps(
        {
            "id": f"evt_bench_{n:08d}",
            "object": "event",
            "type": EVENT_CYCLE[n % len(EVENT_CYCLE)],
            "created": int(time.time()),
            "livemode": False,
            "data": {
                "object": {
                    "id": f"pi_bench_{payment:08d}",
                    "object": "payment_intent",
                    "amount": 10000,
                    "currency": "mxn",
                    "status": "succeeded",
                }
            },
        }
    ).encode()


class Connection:
    """A minimal keep-alive HTTP/1.1 client: httpx's pool, not the server, would be measured."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"", headers=None) -> int:
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

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def _fire(port: int, count: int, rate: float, conc: int):
    latencies: list[float] = []
    failures = 0
    queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def worker() -> None:
        nonlocal failures
        conn = Connection("127.0.0.1", port)
        while (item := await queue.get()) is not None:
            n, scheduled = item
            body = _event(n)
            headers = {
                "stripe-signature": stripe_signature_header(body, WEBHOOK_SECRET, int(time.time())),
                "Content-Type": "application/json",
            }
            try:
                status = await conn.request("POST", "/webhooks/stripe", body, headers)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
                conn.close()
                conn = Connection("127.0.0.1", port)
            # Latency from when the event was due: queueing behind a slow server counts.
            latencies.append(time.perf_counter() - scheduled)
            failures += status != 200
        conn.close()

    workers = [asyncio.create_task(worker()) for _ in range(conc)]
    start = time.perf_counter()
    for n in range(count):
        target = start + n / rate
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        queue.put_nowait((n, target))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    return latencies, failures, time.perf_counter() - start


async def _healthz_rate(port: int, seconds: float = 3.0, conc: int = 8) -> float:
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        conn = Connection("127.0.0.1", port)
        while time.perf_counter() < deadline:
            await conn.request("GET", "/healthz")
            done += 1
        conn.close()

    await asyncio.gather(*[worker() for _ in range(conc)])
    return done / seconds


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _seed(db: Path, payments: int) -> None:
    """An institution taking the env credentials, a borrower, a loan, and payments awaiting
    their provider's confirmation, so the events are processed as in production."""
    now = "2026-01-01 00:00:00+00:00"
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO institutions (id, slug, name, kind, settings, created_at) VALUES "
            "(1, 'bench', 'Bench', 'lender', '{\"env_credentials\": true}', ?)",
            (now,),
        )
        conn.execute(
            "INSERT INTO users (id, institution_id, email, full_name, role, password_hash, "
            "is_active, mfa_enabled, created_at) VALUES (1, 1, 'b@bench.mx', 'Bench', "
            "'borrower', 'x', 1, 0, ?)",
            (now,),
        )
        conn.execute(
            "INSERT INTO loan_products (id, institution_id, name, kind, method, periodicity, "
            "day_count, annual_rate, vat_rate, opening_fee_rate, late_annual_rate, "
            "late_fee_centavos, allows_overpayment, settings, created_at) VALUES (1, 1, 'P', "
            "'personal', 'FRENCH', 'MONTHLY', 'PERIODIC', '0.36', '0.16', '0', '0', 0, 1, "
            "'{}', ?)",
            (now,),
        )
        conn.execute(
            "INSERT INTO loans (id, institution_id, borrower_id, product_id, status, "
            "principal_centavos, annual_rate, vat_rate, term_count, periodicity, method, "
            "day_count, opening_fee_centavos, opening_fee_vat_centavos, start_date, "
            "overpayment_mode, settings, created_at, updated_at) VALUES (1, 1, 1, 1, 'active', "
            "100000000, '0.36', '0.16', 12, 'MONTHLY', 'FRENCH', 'PERIODIC', 0, 0, "
            "'2026-01-01', 'ADVANCE', '{}', ?, ?)",
            (now, now),
        )
        conn.executemany(
            "INSERT INTO payments (institution_id, loan_id, user_id, provider, method, "
            "amount_centavos, refunded_centavos, status, idempotency_key, request_fingerprint, "
            "provider_reference, created_at, updated_at) VALUES (1, 1, 1, 'stripe', 'spei', "
            "10000, 0, 'requires_action', ?, 'bench', ?, ?, ?)",
            [(f"bench-{n}", f"pi_bench_{n:08d}", now, now) for n in range(payments)],
        )


def _start_server(port: int, workdir: Path, payments: int) -> subprocess.Popen:
    db = workdir / "bench.sqlite3"
    env = {
        **os.environ,
        "PUENTE_DATABASE_URL": f"sqlite://{db}" + os.environ.get("BENCH_SQLITE_PARAMS", ""),
        "PUENTE_SECRET_KEY": secrets.token_urlsafe(48),
        "PUENTE_ENCRYPTION_KEYS": "b1:"
        + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "PUENTE_STRIPE_SECRET_KEY": "sk_test_bench",
        "PUENTE_STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    puente = str(Path(sys.executable).with_name("puente"))
    subprocess.run([puente, "migrate"], env=env, check=True, capture_output=True)
    _seed(db, payments)
    server = subprocess.Popen(
        [puente, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "PUENTE_LOG_LEVEL": "warning", "PUENTE_ACCESS_LOG": "0"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    server.kill()
    raise SystemExit("server did not start")


async def _wait_processed(db: Path, payments: int, limit: float = 60.0) -> float:
    """Seconds until every payment is applied (or ``limit``), polling the database."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        with sqlite3.connect(db) as conn:
            paid = conn.execute("SELECT count(*) FROM payments WHERE status='paid'").fetchone()[0]
        if paid >= payments:
            break
        await asyncio.sleep(0.2)
    return time.perf_counter() - start


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=300.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--port", type=int, default=8917)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        payments = (args.events + len(EVENT_CYCLE) - 1) // len(EVENT_CYCLE)
        server = _start_server(args.port, Path(tmp), payments)
        try:
            health = await _healthz_rate(args.port)
            latencies, failures, elapsed = await _fire(
                args.port, args.events, args.rate, args.concurrency
            )
            drained = await _wait_processed(Path(tmp) / "bench.sqlite3", payments)
        finally:
            server.terminate()
            server.wait(timeout=10)
        with sqlite3.connect(Path(tmp) / "bench.sqlite3") as conn:
            stored = conn.execute("SELECT count(*) FROM provider_events").fetchone()[0]
            paid = conn.execute("SELECT count(*) FROM payments WHERE status='paid'").fetchone()[0]
            entries = conn.execute(
                "SELECT count(*) FROM journal_entries WHERE kind='payment'"
            ).fetchone()[0]
    acked = len(latencies) - failures
    print(f"events sent            {args.events} at target {args.rate:.0f}/s")
    print(f"acknowledged (2xx)     {acked}  failed {failures}")
    print(f"stored in the inbox    {stored}  lost {args.events - stored}")
    print(f"ack rate               {acked / elapsed:,.0f} events/s")
    print(f"ack latency p50        {_pct(latencies, 0.50):.1f} ms")
    print(f"ack latency p99        {_pct(latencies, 0.99):.1f} ms")
    print(f"ack latency mean       {statistics.fmean(latencies) * 1000:.1f} ms")
    print(
        f"payments applied       {paid} of {payments} ({entries} ledger entries), "
        f"queue drained in {drained:.1f} s after the last event"
    )
    print(f"bare /healthz rate     {health:,.0f} requests/s (same server, for scale)")
    met = (
        _pct(latencies, 0.99) < 50
        and stored == args.events
        and failures == 0
        and paid == entries == payments
    )
    print(f"target p99 < 50 ms at {args.rate:.0f}/s, nothing lost: {'MET' if met else 'NOT MET'}")


if __name__ == "__main__":
    asyncio.run(main())
