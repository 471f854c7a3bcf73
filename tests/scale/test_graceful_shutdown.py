"""`puente serve` stops within a few seconds of SIGTERM, even with long-lived streams open.

A portal page's Server-Sent Events stream and a GraphQL subscription stay open for minutes
(``live.py``: up to ``max_age``); uvicorn's graceful shutdown waits for every open response
to end before it runs the app's shutdown. Without the server telling the streams to end,
SIGTERM with one browser tab open took as long as the stream's ``max_age`` (five minutes).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest
from tests.conftest import PRIVATE_POSTGRES, _init
from tests.support import factories
from tests.support.portal_pay import csrf_of
from tests.support.servers import free_port, serve, server_env, stop, subscribe_ws, wait_ready

from puente.graphql.types import encode_global_id

PASSWORD = "contrasena-segura-1"
BOUND = 6.0  # seconds from SIGTERM to exit (the test sets serve's own deadline to 60 s)


async def _seed(database_url: str, runtime) -> tuple[int, int, str]:
    from tortoise import Tortoise

    from puente.accounts.service import AuthService

    await _init(database_url)
    try:
        inst = await factories.institution()
        ana = await factories.user(runtime, inst)
        loan = await factories.active_loan(inst, ana, principal="12000.00")
        payment = await factories.payment(loan, key="shutdown-1", amount_centavos=10000)
        tokens = await AuthService(runtime).login("ana@example.mx", PASSWORD)
        return loan.id, payment.id, tokens.access_token  # type: ignore[union-attr]
    finally:
        await Tortoise.close_connections()


async def _open_streams(port: int, loan_id: int, payment_id: int, token: str):
    """A signed-in portal tab's SSE stream and a GraphQL subscription, both past their
    first message (so the server holds them open)."""
    base = f"http://127.0.0.1:{port}"
    client = httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(5.0, read=60.0))
    page = await client.get("/login")
    signed = await client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "email": "ana@example.mx", "password": PASSWORD},
    )
    assert signed.status_code == 303, signed.text
    request = client.build_request("GET", f"/prestamos/{loan_id}/eventos")
    response = await client.send(request, stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    lines = response.aiter_lines()
    assert (await asyncio.wait_for(anext(lines), 10)).startswith("event:")
    ws = await subscribe_ws(
        port,
        token,
        "subscription($id: ID!) { paymentStatus(paymentId: $id) { status } }",
        {"id": encode_global_id("Payment", payment_id)},
    )
    first = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert first["type"] == "next", first
    return client, response, lines, ws


@pytest.mark.parametrize("database_url", ["sqlite", PRIVATE_POSTGRES], indirect=True)
def test_sigterm_with_an_sse_stream_and_a_subscription_open_stops_promptly(
    database_url, runtime, clock
):
    clock.now = datetime.now(UTC)  # the server checks token expiry against the real clock
    loan_id, payment_id, token = asyncio.run(_seed(database_url, runtime))
    port = free_port()
    env = server_env(
        runtime,
        database_url,
        "",
        PUENTE_ACCESS_LOG="0",
        PUENTE_SHUTDOWN_GRACE_SECONDS="60",  # so only the streams ending on their own pass
    )
    server = serve(env, port)
    try:
        wait_ready(port, server)

        async def scenario() -> tuple[float, bool]:
            client, response, lines, ws = await _open_streams(port, loan_id, payment_id, token)
            try:
                started = time.monotonic()
                server.send_signal(signal.SIGTERM)
                # The stream ends (the server closes it) rather than being cut by the test.
                ended = False
                try:
                    async with asyncio.timeout(BOUND):
                        async for _ in lines:
                            pass
                    ended = True
                except (TimeoutError, httpx.HTTPError):
                    pass
                await asyncio.to_thread(_wait, server, BOUND - (time.monotonic() - started))
                return time.monotonic() - started, ended
            finally:
                await response.aclose()
                await client.aclose()
                await ws.close()

        took, stream_ended = asyncio.run(scenario())
        # Exited by itself: uvicorn, once shut down, re-raises the SIGTERM it caught.
        assert server.returncode in (0, -signal.SIGTERM), server.returncode
        assert took < BOUND, took
        assert stream_ended  # the server ended the stream; the test did not cut it
    finally:
        stop(server, timeout=0)


def _wait(server: subprocess.Popen, timeout: float) -> None:
    try:
        server.wait(timeout=max(timeout, 0.1))
    except subprocess.TimeoutExpired:
        pass
