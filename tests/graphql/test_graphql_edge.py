"""/graphql at the edge: bad bodies are 400s with a GraphQL error body, big ones 413, one
WebSocket protocol, and no schema tour (introspection, suggestions) unless configured."""

from __future__ import annotations

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from tests.conftest import make_settings

from puente.app import create_app
from puente.runtime import Runtime
from puente.security.passwords import FAST_TEST_POLICY


def runtime_for(**settings: object) -> Runtime:
    return Runtime.from_settings(
        make_settings("sqlite://:memory:", **settings), password_policy=FAST_TEST_POLICY
    )


def client_for(**settings: object) -> httpx.AsyncClient:
    app = create_app(runtime_for(**settings), manage_database=False, run_workers=False)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


JSON = "application/json"
BAD_BODIES = [
    (b"\xff\xfe{\x00}\x00", JSON),  # not UTF-8
    (b'{"query": "{ __typename }", "x": "\xe9"}', JSON),  # latin-1 bytes in a JSON string
    (b'"1"', JSON),
    (b"1", JSON),
    (b"[]", JSON),
    (b"null", JSON),
    (b"true", JSON),
    (b'[{"query": "{ __typename }"}]', JSON),  # batching is off
    (b"{not json", JSON),
    (b"", JSON),
    (b'{"query": 1}', JSON),
    (b'{"query": "{ __typename }", "variables": []}', JSON),
    (b'{"query": "{ __typename }"}', "application/json; charset=latin-1"),
    (b'{"query": "{ __typename }"}', "text/plain"),
    (b"query=%7B__typename%7D", "application/x-www-form-urlencoded"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
async def test_a_malformed_request_is_a_400_with_a_graphql_error_body(body, content_type):
    async with client_for() as client:
        answer = await client.post("/graphql", content=body, headers={"content-type": content_type})
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    (error,) = answer.json()["errors"]
    assert isinstance(error["message"], str) and error["message"]


@pytest.mark.anyio
async def test_a_well_formed_request_still_works_with_or_without_utf8_charset():
    async with client_for() as client:
        for content_type in (
            JSON,
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
        ):
            answer = await client.post(
                "/graphql",
                content=b'{"query": "{ __typename }"}',
                headers={"content-type": content_type},
            )
            assert answer.json() == {"data": {"__typename": "Query"}}, content_type


@pytest.mark.anyio
async def test_a_body_over_the_limit_is_a_413_read_no_further():
    async with client_for(graphql_max_body_bytes=1024) as client:
        big = b'{"query": "{ __typename }", "pad": "' + b"x" * 2000 + b'"}'
        declared = await client.post("/graphql", content=big, headers={"content-type": JSON})

        async def chunks():
            for _ in range(5):
                yield b" " * 400  # no content-length: counted as it streams

        streamed = await client.post("/graphql", content=chunks(), headers={"content-type": JSON})
        small = await client.post(
            "/graphql", content=b'{"query": "{ __typename }"}', headers={"content-type": JSON}
        )
    assert declared.status_code == 413 and declared.json()["errors"][0]["message"]
    assert streamed.status_code == 413 and streamed.json()["errors"][0]["message"]
    assert small.status_code == 200


@pytest.mark.anyio
async def test_introspection_and_suggestions_are_off_in_serve_unless_configured():
    introspect = {"query": "{ __schema { queryType { name } } }"}
    typo = {"query": "{ viewr }"}
    async with client_for() as serve:
        closed = (await serve.post("/graphql", json=introspect)).json()
        hint = (await serve.post("/graphql", json=typo)).json()
    assert closed.get("data") is None and closed["errors"]
    assert "viewer" not in hint["errors"][0]["message"]  # no "Did you mean 'viewer'?"
    for settings in ({"sandbox": True}, {"graphql_introspection": True}):
        async with client_for(**settings) as open_client:
            shown = (await open_client.post("/graphql", json=introspect)).json()
            hinted = (await open_client.post("/graphql", json=typo)).json()
        assert shown["data"]["__schema"]["queryType"]["name"] == "Query", settings
        assert "Did you mean 'viewer'?" in hinted["errors"][0]["message"], settings


def test_only_graphql_transport_ws_is_spoken():
    app = create_app(runtime_for(), manage_database=False, run_workers=False)
    with TestClient(app) as client:
        for protocols in (["graphql-ws"], [], ["something-else"]):
            with (
                pytest.raises(WebSocketDisconnect) as refused,
                client.websocket_connect("/graphql", subprotocols=protocols) as ws,
            ):
                ws.send_json({"type": "connection_init"})
                ws.receive_json()
            assert refused.value.code == 4406, protocols


@pytest.mark.parametrize("authorization", [123, ["Bearer x"], {"a": 1}, None, True, "Bearer"])
def test_a_non_string_authorization_in_connection_init_does_not_crash_the_socket(authorization):
    app = create_app(runtime_for(), manage_database=False, run_workers=False)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"authorization": authorization}})
        assert ws.receive_json()["type"] == "connection_ack"  # anonymous, as without a token
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": "{ __typename }"}})
        assert ws.receive_json()["payload"] == {"data": {"__typename": "Query"}}
