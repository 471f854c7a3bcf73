"""GraphQL over WebSocket (graphql-transport-ws) with the JWT in connection_init."""

from __future__ import annotations

import asyncio

from starlette.testclient import TestClient
from tests.conftest import _init
from tests.support import factories

from puente.accounts.service import AuthService
from puente.app import create_app
from puente.runtime import Runtime


def _seed(runtime: Runtime, url: str) -> str:
    async def run() -> str:
        await _init(url)
        try:
            inst = await factories.institution()
            await factories.user(runtime, inst)
            tokens = await AuthService(runtime).login("ana@example.mx", "contrasena-segura-1")
            return tokens.access_token  # type: ignore[union-attr]
        finally:
            from tortoise import Tortoise

            await Tortoise.close_connections()

    return asyncio.run(run())


def test_query_over_graphql_transport_ws_sees_the_authenticated_viewer(database_url, runtime):
    token = _seed(runtime, database_url)
    app = create_app(runtime)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { user { email } } }"}}
        )
        message = ws.receive_json()
        assert message["type"] == "next", message
        assert message["payload"]["data"]["viewer"]["user"]["email"] == "ana@example.mx"
        assert ws.receive_json() == {"id": "1", "type": "complete"}
