"""The strawberry ASGI view, wired to Puente's context and authentication.

Over HTTP every refusal is a GraphQL error body (``{"errors": [{"message": …}]}``, es-MX):
a body that is not one UTF-8 JSON object is a 400, one over ``graphql_max_body_bytes`` a
413 (read no further than the limit), and strawberry's own plain-text refusals are
rewritten to the same shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.types.unset import UNSET

from puente.accounts.service import AuthService
from puente.graphql.context import GraphQLContext
from puente.graphql.shared_results import next_frame
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime
from puente.security.tokens import bearer_token

__all__ = ["PuenteGraphQL", "graphql_error"]

# strawberry's refusals, said in Spanish; anything else gets the generic message.
_MESSAGES = {
    "Unsupported content type": "Envía la consulta como application/json (UTF-8).",
    "Batching is not enabled": "Envía una sola operación por solicitud.",
    "mutations are not allowed when using GET": "Las mutaciones solo se aceptan por POST.",
    "No GraphQL query found in the request": "La solicitud no trae una consulta GraphQL.",
}
_GENERIC = "Solicitud GraphQL inválida."


class BodyTooLarge(Exception):
    """The request body passed the configured limit."""


def graphql_error(message: str, status_code: int) -> JSONResponse:
    """A refusal in the GraphQL response shape."""
    return JSONResponse({"errors": [{"message": message}]}, status_code=status_code)


def _utf8_json_content_type(value: str | None) -> bool:
    media, _, params = (value or "").partition(";")
    if media.strip().lower() != "application/json":
        return False
    for param in params.split(";"):
        name, _, charset = param.partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


async def _read_limited(receive: Receive, limit: int) -> bytes:
    """The whole body, refusing to buffer more than ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _refusal(request: Request, body: bytes) -> JSONResponse | None:
    """A 400 for a POST that is not one UTF-8 JSON object (before strawberry parses it)."""
    if request.method != "POST":
        return None  # GET carries the query in its URL; strawberry checks the rest
    if not _utf8_json_content_type(request.headers.get("content-type")):
        return graphql_error(_MESSAGES["Unsupported content type"], 400)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return graphql_error("El cuerpo no es JSON válido en UTF-8.", 400)
    if not isinstance(data, dict):
        return graphql_error("El cuerpo debe ser un objeto JSON con una consulta.", 400)
    return None


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


class SharedFrameWebSocket(ASGIWebSocketAdapter):
    """Sends a subscription result many subscribers share as bytes encoded once
    (``shared_results.next_frame``); every other message as strawberry would."""

    async def send_json(self, message: Mapping[str, object]) -> None:
        frame = next_frame(message)
        if frame is None:
            await super().send_json(message)
            return
        try:
            await self.ws.send_text(frame)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class PuenteGraphQL(GraphQL):
    """JWT from ``Authorization: Bearer`` or the ``connection_init`` payload."""

    websocket_adapter_class = SharedFrameWebSocket

    def __init__(
        self,
        schema: Any,
        runtime: Runtime,
        gateways: GatewayDirectory | None = None,
        **options: Any,
    ) -> None:
        super().__init__(schema, **options)
        self.max_body_bytes = runtime.settings.graphql_max_body_bytes
        self.runtime = runtime
        self.auth = AuthService(runtime)
        self.gateways = gateways or GatewayDirectory(runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            body = await self._body(scope, receive)
        except BodyTooLarge:
            await graphql_error("La solicitud es demasiado grande.", 413)(scope, receive, send)
            return
        response = _refusal(Request(scope), body)
        if response is not None:
            await response(scope, receive, send)
            return
        await super().__call__(scope, _replay(body), send)

    async def _body(self, scope: Scope, receive: Receive) -> bytes:
        length = Request(scope).headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body_bytes:
            raise BodyTooLarge  # refused unread
        return await _read_limited(receive, self.max_body_bytes)

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:  # type: ignore[override]
        try:
            return await super().run(request, context, root_value)
        except HTTPException as refused:
            if isinstance(request, WebSocket):
                raise
            message = _MESSAGES.get(refused.reason, _GENERIC)
            return graphql_error(message, refused.status_code)

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
