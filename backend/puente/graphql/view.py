"""The strawberry ASGI view, wired to Puente's context and authentication."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from puente.accounts.service import AuthService
from puente.graphql.context import GraphQLContext, bearer_token
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime

__all__ = ["PuenteGraphQL"]


class PuenteGraphQL(GraphQL):
    """JWT from ``Authorization: Bearer`` or the ``connection_init`` payload."""

    def __init__(
        self,
        schema: Any,
        runtime: Runtime,
        gateways: GatewayDirectory | None = None,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        self.runtime = runtime
        self.auth = AuthService(runtime)
        self.gateways = gateways or GatewayDirectory(runtime)

    async def get_context(self, request: Request | WebSocket, response: Any) -> GraphQLContext:  # type: ignore[override]
        token = bearer_token(request.headers.get("authorization"))
        return GraphQLContext(
            runtime=self.runtime,
            auth=self.auth,
            gateways=self.gateways,
            request=request,
            response=response,
            token=token,
            long_lived=isinstance(request, WebSocket),
        )

    async def on_ws_connect(self, context: GraphQLContext) -> Any:  # type: ignore[override]
        params = context.connection_params or {}
        if isinstance(params, dict):
            token = bearer_token(params.get("authorization") or params.get("Authorization"))
            if token:
                context.use_token(token)
        return None
