"""Real `puente serve` processes for tests that need several of them (PostgreSQL + Redis)."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from puente.runtime import Runtime

__all__ = [
    "free_port",
    "serve",
    "server_env",
    "stripe_succeeded",
    "stop",
    "subscribe_ws",
    "wait_ready",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(runtime: Runtime, database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    """The environment of a server sharing the test's database, secrets and Redis."""
    settings = runtime.settings
    keys = ",".join(
        f"{kid}:{base64.urlsafe_b64encode(raw).decode()}" for kid, raw in settings.encryption_keys
    )
    return {
        **os.environ,
        "PUENTE_DATABASE_URL": database_url,
        "PUENTE_REDIS_URL": redis_url,
        "PUENTE_SECRET_KEY": settings.secret_key,
        "PUENTE_ENCRYPTION_KEYS": keys,
        "PUENTE_COOKIE_SECURE": "0",
        **extra,
    }


def serve(env: dict[str, str], port: int) -> subprocess.Popen:
    """A ``puente serve`` process; its log goes to a file (``server.log``), never to a pipe
    nobody reads: once 64 KiB of log filled such a pipe, the server blocked on its next log
    line, mid-shutdown, and never exited. ``stop`` it."""
    puente = str(Path(sys.executable).with_name("puente"))
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(
        [puente, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    server.log = log  # type: ignore[attr-defined]
    return server


def server_log(server: subprocess.Popen) -> str:
    """What the server logged so far."""
    server.log.seek(0)  # type: ignore[attr-defined]
    return server.log.read().decode(errors="replace")  # type: ignore[attr-defined]


def stop(server: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout``; closes its log."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
    server.log.close()  # type: ignore[attr-defined]


def wait_ready(port: int, server: subprocess.Popen) -> None:
    for _ in range(150):
        if server.poll() is not None:
            raise RuntimeError(server_log(server) or "exited")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=0.5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not become ready")


async def subscribe_ws(port: int, token: str, query: str, variables: dict, sub_id: str = "1"):
    """An open graphql-transport-ws socket with one subscription started (caller closes it)."""
    import websockets

    ws = await websockets.connect(
        f"ws://127.0.0.1:{port}/graphql", subprotocols=["graphql-transport-ws"]
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": sub_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables},
            }
        )
    )
    return ws


def stripe_succeeded(event_id: str, payment_intent_id: str, amount_centavos: int) -> bytes:
    """The body of a Stripe ``payment_intent.succeeded`` event, as Stripe sends it."""
    return json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": "payment_intent.succeeded",
            "created": int(time.time()),
            "data": {
                "object": {
                    "id": payment_intent_id,
                    "object": "payment_intent",
                    "amount": amount_centavos,
                    "currency": "mxn",
                    "status": "succeeded",
                }
            },
        }
    ).encode()
