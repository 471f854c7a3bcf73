"""Subscription fan-out: many GraphQL ``paymentStatus`` subscribers of one payment.

Each subscriber is a real strawberry subscription (its own context, session and token, as
one WebSocket has), on a migrated SQLite database with the demo data; the transport
(WebSocket frames) is left out. An "event" is a notice published on the payment's channel;
latency runs from the publish to the moment each subscriber's stream yields the reloaded
payment. Printed side by side, in one run:

1. one process, in-memory bus, N subscribers: this code (per event and process: one
   reload, one batched session check, one execution per distinct query) and its baseline
   (each subscriber reloads, checks its session with its own two queries and executes its
   own selection, as before issue 15);
2. through Redis, N subscribers in this process, published from another connection: this
   code (one subscription connection per process) and its baseline (one pooled connection
   per subscription and the per-subscriber work of (1), as before: it breaks past ~196
   subscribers);
3. through Redis, ``--big`` subscribers split over two child processes: does every
   subscriber receive every event, and how late.

    .venv/bin/python bench/subscriptions.py [--subscribers 1000] [--big 10000] [--events 5]
        [--redis redis://127.0.0.1:6379/15]

Targets (issue 15): 1,000 subscribers p99 <= 100 ms in one process, <= 150 ms through
Redis; 10,000 across two processes: every subscriber receives every event.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import logging
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from puente.accounts.access import Session
from puente.accounts.service import AuthService
from puente.config import load_settings
from puente.db import migrate, open_database
from puente.demo import load_demo_data
from puente.enums import PaymentMethodType, PaymentStatus, ProviderName
from puente.events.bus import InMemoryBus, RedisBus
from puente.graphql.context import GraphQLContext
from puente.graphql.schema import build_schema
from puente.graphql.types import encode_global_id
from puente.loans.models import Loan
from puente.payments.change_notices import payment_channel
from puente.payments.models import Payment
from puente.runtime import Runtime

QUERY = "subscription($id: ID!) { paymentStatus(paymentId: $id) { id status amount { amount } } }"


class PerSubscriberReload:
    """Baseline for (1): the bus hands out plain dicts, so ``reload_once`` cannot share the
    reload and every subscriber reads the payment itself (the behaviour before issue 15)."""

    def __init__(self, bus: Any) -> None:
        self._bus = bus

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._bus.publish(channel, message)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async with self._bus.subscribe(channel) as notices:

            async def plain() -> AsyncIterator[dict[str, Any]]:
                async for notice in notices:
                    yield dict(notice)

            yield plain()

    async def close(self) -> None:
        await self._bus.close()


class PerSubscriberChecks(AuthService):
    """Baseline: each stream's session check is its own query pair, as before issue 15 #5
    (``still_valid`` per session instead of one query pair for the batch)."""

    async def still_valid_many(self, sessions: Sequence[Session]) -> list[bool]:
        return list(await asyncio.gather(*(self.still_valid(s) for s in sessions)))


class ConnectionPerSubscription:
    """Baseline for (2): the Redis bus before issue 15, one pooled connection each."""

    def __init__(self, url: str) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)

    async def publish(self, channel: str, message: Mapping[str, Any]) -> None:
        await self._redis.publish("puente:" + channel, json.dumps(dict(message)))

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe("puente:" + channel)

        async def messages() -> AsyncIterator[dict[str, Any]]:
            async for raw in pubsub.listen():
                if raw.get("type") == "message":
                    yield json.loads(raw["data"])

        try:
            yield messages()
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def close(self) -> None:
        await self._redis.aclose()


# -- set-up ---------------------------------------------------------------------------------


def _env(database_url: str) -> dict[str, str]:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    return {
        "PUENTE_DATABASE_URL": database_url,
        "PUENTE_SECRET_KEY": secrets.token_urlsafe(32),
        "PUENTE_ENCRYPTION_KEYS": f"k1:{key}",
        # Longer than a run: the periodic recheck is not what is measured here.
        "PUENTE_SESSION_RECHECK_SECONDS": "600",
    }


async def _seed(env: dict[str, str]) -> tuple[int, str]:
    """Demo data plus one payment of Ana's; returns the payment id and Ana's access token."""
    await migrate(env["PUENTE_DATABASE_URL"])
    runtime = Runtime.from_settings(load_settings(env))
    async with open_database(env["PUENTE_DATABASE_URL"]):
        await load_demo_data(runtime)
        loan = await Loan.filter(borrower__email="ana@demo.puente.mx").first()
        assert loan is not None
        payment = await Payment.create(
            institution_id=loan.institution_id,  # type: ignore[attr-defined]
            loan_id=loan.id,
            user_id=loan.borrower_id,  # type: ignore[attr-defined]
            provider=ProviderName.STRIPE,
            method=PaymentMethodType.SPEI,
            amount_centavos=100000,
            status=PaymentStatus.REQUIRES_ACTION,
            idempotency_key=f"bench-{secrets.token_hex(4)}",
            request_fingerprint="bench",
            provider_reference=f"pi_bench_{secrets.token_hex(4)}",
        )
        tokens = await AuthService(runtime).login("ana@demo.puente.mx", "ana-demo-2026")
    return payment.id, tokens.access_token  # type: ignore[union-attr]


# -- measuring ------------------------------------------------------------------------------


async def _subscribe(
    runtime: Runtime, count: int, payment_id: int, token: str, *, baseline: bool = False
) -> list:
    """``count`` subscriptions; ``baseline``: per-subscriber session checks and execution."""
    schema = build_schema(share_subscription_results=not baseline)
    auth = PerSubscriberChecks(runtime) if baseline else AuthService(runtime)
    variables = {"id": encode_global_id("Payment", payment_id)}
    streams = []
    for _ in range(count):
        context = GraphQLContext(
            runtime=runtime,
            auth=auth,
            gateways=None,  # type: ignore[arg-type]
            request=None,
            response=None,
            token=token,
            long_lived=True,
        )
        stream = await schema.subscribe(QUERY, variables, context)
        first = await anext(stream)  # type: ignore[arg-type]
        if first.errors:
            raise RuntimeError(first.errors)
        streams.append(stream)
    return streams


def _settle() -> None:
    """Collect the garbage of opening N subscriptions in one burst before the first event.

    In a server subscriptions arrive over minutes; here they all arrive just before the
    events, and the full collections they trigger (hundreds of ms at 1,000 subscriptions on
    this machine) would otherwise land on the first events, whichever code is measured.
    """
    gc.collect()


async def _collect(stream: Any, events: int, times: list[float], patience: float) -> None:
    """Read ``stream`` as the WebSocket handler does (``async for``, no task per result)."""
    with contextlib.suppress(TimeoutError, StopAsyncIteration):
        while len(times) < events:
            async with asyncio.timeout(patience):
                result = await anext(stream)
            if result.errors is None:
                times.append(time.time())


def _figures(sent: list[float], received: list[list[float]], events: int) -> dict[str, Any]:
    latencies = [
        (at - sent[number]) * 1000
        for times in received
        for number, at in enumerate(times[: len(sent)])
    ]
    latencies.sort()
    complete = sum(1 for times in received if len(times) >= events)
    return {
        "subscribers": len(received),
        "complete": complete,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
        "max_ms": round(latencies[-1], 1) if latencies else None,
    }


async def _one_process(
    env: dict[str, str],
    bus: Any,
    publisher: Any,
    count: int,
    events: int,
    payment_id: int,
    token: str,
    *,
    baseline: bool = False,
) -> dict[str, Any]:
    """``count`` subscribers on ``bus`` in this process; ``events`` notices via ``publisher``."""
    runtime = Runtime.from_settings(load_settings(env))
    runtime.bus = bus
    async with open_database(env["PUENTE_DATABASE_URL"]):
        try:
            streams = await _subscribe(runtime, count, payment_id, token, baseline=baseline)
        except Exception as error:  # noqa: BLE001 - the baseline is expected to break
            await bus.close()
            return {"subscribers": count, "failed": f"{type(error).__name__}: {error}"[:120]}
        _settle()
        received: list[list[float]] = [[] for _ in streams]
        sent: list[float] = []
        cpus: list[float] = []  # this process's CPU time per event (independent of load)
        readers = [
            asyncio.create_task(_collect(s, events, r, 30))
            for s, r in zip(streams, received, strict=True)
        ]
        for _ in range(events):
            await asyncio.sleep(0.2)
            seen = sum(len(r) for r in received)
            sent.append(time.time())
            cpu = time.process_time()
            await publisher.publish(payment_channel(payment_id), {"payment": payment_id})
            deadline = time.monotonic() + 30  # wait for everyone before the next event
            while sum(len(r) for r in received) < seen + count and time.monotonic() < deadline:  # noqa: ASYNC110 - polling a count is enough here
                await asyncio.sleep(0.01)
            cpus.append((time.process_time() - cpu) * 1000)
        await asyncio.gather(*readers)
        for stream in streams:
            await stream.aclose()
        await bus.close()
    return {**_figures(sent, received, events), "cpu_ms": [round(c) for c in cpus]}


async def _child(args: argparse.Namespace) -> None:
    """One of the two processes of (3): subscribe, say ready, report what arrived when."""
    env = {**_env(args.database), **json.loads(args.child_env)}
    runtime = Runtime.from_settings(load_settings(env))
    runtime.bus = RedisBus(args.redis)
    async with open_database(env["PUENTE_DATABASE_URL"]):
        streams = await _subscribe(runtime, args.subscribers, args.payment, args.token)
        _settle()
        received: list[list[float]] = [[] for _ in streams]
        readers = [
            asyncio.create_task(_collect(s, args.events, r, 60))
            for s, r in zip(streams, received, strict=True)
        ]
        print("ready", flush=True)
        await asyncio.gather(*readers)
        await runtime.bus.close()
    # A file, not stdout: a pipe holds 64 KiB and the parent reads the other child first.
    Path(args.results).write_text(json.dumps(received))  # noqa: ASYNC240 - once, at the end


def _spawn(
    args: argparse.Namespace,
    env: dict[str, str],
    count: int,
    payment: int,
    token: str,
    results: str,
) -> subprocess.Popen[str]:
    shared = {k: env[k] for k in ("PUENTE_SECRET_KEY", "PUENTE_ENCRYPTION_KEYS")}
    return subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--child",
            "--database",
            env["PUENTE_DATABASE_URL"],
            "--redis",
            args.redis,
            "--subscribers",
            str(count),
            "--events",
            str(args.events),
            "--payment",
            str(payment),
            "--token",
            token,
            "--child-env",
            json.dumps(shared),
            "--results",
            results,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )


async def _two_processes(
    args: argparse.Namespace, env: dict[str, str], payment_id: int, token: str
) -> dict[str, Any]:
    half = args.big // 2
    workdir = Path(env["PUENTE_DATABASE_URL"].removeprefix("sqlite://")).parent
    outputs = [str(workdir / f"child-{n}.json") for n in range(2)]
    children = [_spawn(args, env, half, payment_id, token, out) for out in outputs]
    loop = asyncio.get_running_loop()
    for child in children:
        line = await loop.run_in_executor(None, child.stdout.readline)  # type: ignore[union-attr]
        if line.strip() != "ready":
            raise RuntimeError("a child process did not start")
    publisher = RedisBus(args.redis)
    sent = []
    for _ in range(args.events):
        sent.append(time.time())
        await publisher.publish(payment_channel(payment_id), {"payment": payment_id})
        await asyncio.sleep(args.big / 2000)  # let the slowest finish before the next one
    await publisher.close()
    received: list[list[float]] = []
    for child, output in zip(children, outputs, strict=True):
        await loop.run_in_executor(None, child.wait)
        received.extend(json.loads(Path(output).read_text()))  # noqa: ASYNC240 - at the end
    return _figures(sent, received, args.events)


def _line(label: str, figures: dict[str, Any]) -> str:
    if "failed" in figures:
        return (
            f"  {label:<44} {figures['subscribers']:>6} subscribers: FAILED ({figures['failed']})"
        )
    return (
        f"  {label:<44} {figures['subscribers']:>6} subscribers, {figures['complete']:>6} got "
        f"every event; p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"max {figures['max_ms']} ms"
        + (f"; CPU per event {figures['cpu_ms']} ms" if "cpu_ms" in figures else "")
    )


async def _main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="puente-bench-subs-"))
    env = _env(f"sqlite://{workdir / 'bench.sqlite3'}")
    payment_id, token = await _seed(env)
    n, events = args.subscribers, args.events
    print(
        f"subscribers: {n} per one-process run, {args.big} across two processes; "
        f"{events} events each; python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    print("1. one process, in-memory bus")
    memory = InMemoryBus()
    print(
        _line(
            "this code (shared per event)",
            await _one_process(env, memory, memory, n, events, payment_id, token),
        )
    )
    baseline = PerSubscriberReload(InMemoryBus())
    print(
        _line(
            "baseline (all of it per subscriber)",
            await _one_process(
                env, baseline, baseline, n, events, payment_id, token, baseline=True
            ),
        )
    )
    if not args.redis:
        print("2./3. skipped: no --redis")
        return
    print("2. through Redis (subscribers here, published on another connection)")
    publisher = RedisBus(args.redis)
    print(
        _line(
            "this code (one subscription connection)",
            await _one_process(env, RedisBus(args.redis), publisher, n, events, payment_id, token),
        )
    )
    legacy = ConnectionPerSubscription(args.redis)
    logging.getLogger("puente.graphql").setLevel(logging.CRITICAL)  # its failures are expected
    print(
        _line(
            "baseline (a connection per subscription)",
            await _one_process(env, legacy, legacy, n, events, payment_id, token, baseline=True),
        )
    )
    await publisher.close()
    if args.big:
        print("3. through Redis, two processes")
        print(
            _line(
                f"this code, {args.big // 2} per process",
                await _two_processes(args, env, payment_id, token),
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--big", type=int, default=10000, help="0 skips the two-process run")
    parser.add_argument("--events", type=int, default=5)
    parser.add_argument("--redis", default=os.environ.get("PUENTE_TEST_REDIS_URL", ""))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--payment", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--child-env", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    args = parser.parse_args()
    asyncio.run(_child(args) if args.child else _main(args))


if __name__ == "__main__":
    main()
