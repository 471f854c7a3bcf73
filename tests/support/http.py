"""An in-process HTTP client for the app, sharing the test's event loop and database."""

from __future__ import annotations

import httpx

from puente.accounts.service import AuthService
from puente.app import create_app
from puente.graphql.context import GraphQLContext
from puente.runtime import Runtime


def app_client(runtime: Runtime, **options: object) -> httpx.AsyncClient:
    app = create_app(runtime, manage_database=False, **options)  # type: ignore[arg-type]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver", follow_redirects=False
    )


async def graphql(
    client: httpx.AsyncClient, query: str, variables: dict | None = None, token: str | None = None
) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


def subscription_context(
    runtime: Runtime, token: str | None, auth: AuthService | None = None
) -> GraphQLContext:
    """What one WebSocket gets, for ``schema.subscribe`` without a server (``auth``: the
    app's one ``AuthService``, shared by every WebSocket as in the server)."""
    return GraphQLContext(
        runtime=runtime,
        auth=auth or AuthService(runtime),
        gateways=None,  # type: ignore[arg-type] - subscriptions call no provider
        request=None,
        response=None,
        token=token,
        long_lived=True,
    )
