"""Raw HTTP and WebSocket fuzzing of /graphql: no 5xx, and no socket dropped without a
proper close code. Bounded and seeded, so a failure replays exactly."""

from __future__ import annotations

import json
import random
import string
import threading
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.conftest import make_settings

from puente.app import create_app
from puente.runtime import Runtime
from puente.security.passwords import FAST_TEST_POLICY

SEED = 20261205
HTTP_CASES = 400
WS_CASES = 120

DOCUMENTS = [
    "{ __typename }",
    "{ viewer { user { email } } }",
    "query Q($id: ID!) { node(id: $id) { id } }",
    "mutation L($e: String!, $p: String!) { login(email: $e, password: $p) { __typename } }",
    'mutation { login(email: "a@b.mx", password: "x") { ... on AuthError { code } } }',
    "query S($i: LoanSimulationInput!) { simulateLoan(input: $i) { cat totalPaid { amount } } }",
    '{ simulateLoan(input: {principal: "1000", annualRate: "0.36", termCount: 12, '
    "periodicity: MONTHLY}) { cat } }",
    "mutation C($i: CreatePaymentInput!) { createPayment(input: $i) { __typename } }",
    'subscription { paymentStatus(paymentId: "1") { id } }',
    "{ __schema { types { name } } }",
]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=utf-8",
    "application/json; charset=latin-1",
    "application/json; charset=",
    "application/graphql",
    "text/plain",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "",
]


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            0,
            -1,
            2**63,
            1e308,
            "",
            "NaN",
            "Infinity",
            "1e9999",
            "9" * 400,
            "\u0000",
            "é" * 50,
            "".join(rng.choices(string.printable, k=rng.randint(0, 40))),
            "9999-12-01",
            "TG9hbjox",
            "UGF5bWVudDotMQ==",
        ]
    )


def _value(rng: random.Random, depth: int = 0) -> Any:
    roll = rng.random()
    if depth > 3 or roll < 0.6:
        return _scalar(rng)
    if roll < 0.8:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["principal", "annualRate", "termCount", "periodicity", "loanId", "amount", "x"]
    return {rng.choice(keys): _value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(0, 4)):
        if not chars:
            break
        at = rng.randrange(len(chars))
        action = rng.random()
        if action < 0.4:
            del chars[at]
        elif action < 0.8:
            chars.insert(at, rng.choice("{}()[]$!@:,.\"'\\ \n#&|=" + string.ascii_letters))
        else:
            chars[at:at] = chars[at : at + rng.randint(1, 20)]
    return "".join(chars)


def _http_body(rng: random.Random) -> bytes:
    roll = rng.random()
    if roll < 0.1:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 64)))
    if roll < 0.25:
        return json.dumps(_value(rng)).encode()
    payload: dict[str, Any] = {"query": _mutate(rng, rng.choice(DOCUMENTS))}
    if rng.random() < 0.7:
        payload["variables"] = (
            _value(rng)
            if rng.random() < 0.3
            else {k: _value(rng) for k in rng.sample(["id", "e", "p", "i", "x"], rng.randint(0, 3))}
        )
    if rng.random() < 0.2:
        payload["operationName"] = _scalar(rng)
    if rng.random() < 0.1:
        payload["extensions"] = _value(rng)
    text = json.dumps(payload)
    if rng.random() < 0.1:
        return text.encode("latin-1", errors="replace")
    return text.encode()


def _runtime() -> Runtime:
    return Runtime.from_settings(
        make_settings("sqlite://:memory:"), password_policy=FAST_TEST_POLICY
    )


@pytest.mark.anyio
async def test_raw_http_fuzz_never_gets_a_5xx(db, runtime):
    rng = random.Random(SEED)
    app = create_app(runtime, manage_database=False, run_workers=False)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    failures: list[tuple[int, str, bytes, int]] = []
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for case in range(HTTP_CASES):
            method = rng.choice(["POST"] * 6 + ["GET", "PUT", "DELETE"])
            headers = {"content-type": rng.choice(CONTENT_TYPES)}
            if rng.random() < 0.2:
                headers["authorization"] = rng.choice(
                    ["Bearer ", "Bearer x.y.z", "Basic Og==", "\t"]
                )
            if method == "GET":
                params = {"query": _mutate(rng, rng.choice(DOCUMENTS))}
                if rng.random() < 0.5:
                    params["variables"] = _mutate(rng, json.dumps(_value(rng)))
                answer = await client.get("/graphql", params=params, headers=headers)
                body = json.dumps(params).encode()
            else:
                body = _http_body(rng)
                answer = await client.request(method, "/graphql", content=body, headers=headers)
            if answer.status_code >= 500:
                failures.append((case, method, body[:200], answer.status_code))
    assert not failures, failures[:5]


def _ws_message(rng: random.Random) -> tuple[str, Any]:
    roll = rng.random()
    if roll < 0.1:
        return "text", _mutate(rng, '{"type": "subscribe"}')
    if roll < 0.15:
        return "bytes", bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 16)))
    kind = rng.choice(
        ["connection_init", "subscribe", "complete", "ping", "pong", "start", "stop", "bogus", 7]
    )
    message: dict[str, Any] = {"type": kind}
    if rng.random() < 0.8:
        message["id"] = rng.choice(["1", "2", "", 1, None, "x" * 300])
    if kind == "connection_init" and rng.random() < 0.8:
        message["payload"] = rng.choice(
            [{"authorization": _scalar(rng)}, _value(rng), {"Authorization": "Bearer abc"}]
        )
    elif kind in ("subscribe", "start"):
        message["payload"] = (
            {"query": _mutate(rng, rng.choice(DOCUMENTS)), "variables": _value(rng)}
            if rng.random() < 0.8
            else _value(rng)
        )
    return "json", message


# Close codes of graphql-transport-ws (4400 bad message, 4401 unauthorised, 4403 forbidden,
# 4406 subprotocol, 4408 init timeout, 4409 duplicate id, 4429 too many inits) and normal.
PROPER_CLOSE_CODES = {1000, 4400, 4401, 4403, 4406, 4408, 4409, 4429}


def _websocket_fuzz(bad: list[tuple[int, Any]]) -> None:
    rng = random.Random(SEED)
    app = create_app(_runtime(), run_workers=False)
    with TestClient(app) as client:
        for case in range(WS_CASES):
            protocols = rng.choice([["graphql-transport-ws"]] * 5 + [["graphql-ws"], []])
            sent: list[Any] = []
            try:
                with client.websocket_connect("/graphql", subprotocols=protocols) as ws:
                    for _ in range(rng.randint(1, 6)):
                        kind, message = _ws_message(rng)
                        sent.append(message)
                        if kind == "json":
                            ws.send_json(message)
                        elif kind == "text":
                            ws.send_text(message)
                        else:
                            ws.send_bytes(message)
                    # The socket must still answer, or have been closed with a proper code.
                    ws.send_json({"type": "ping"})
                    while True:
                        answer = ws.receive_json()
                        if answer.get("type") == "pong":
                            break
            except WebSocketDisconnect as closed:
                if closed.code not in PROPER_CLOSE_CODES:
                    bad.append((case, closed.code, sent))
            except Exception as crash:  # noqa: BLE001 - the server side blew up: report it
                bad.append((case, type(crash).__name__, sent))


def test_websocket_fuzz_never_drops_a_socket_without_a_proper_close_code():
    bad: list[tuple[int, Any]] = []
    # A socket whose handler died never answers: run under a watchdog so that is a failure,
    # not a hung suite.
    worker = threading.Thread(target=_websocket_fuzz, args=(bad,), daemon=True)
    worker.start()
    worker.join(timeout=120)
    assert not worker.is_alive(), f"a socket stopped answering; earlier problems: {bad[:3]}"
    assert not bad, bad[:3]
