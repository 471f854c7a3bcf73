"""``POST /webhooks/{provider}``: the REST door for provider events."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from puente.webhooks.inbox import WebhookInbox

__all__ = ["MAX_WEBHOOK_BYTES", "webhook_routes"]

MAX_WEBHOOK_BYTES = 1_000_000  # providers send a few KB; refuse anything absurd unread


def webhook_routes(inbox: WebhookInbox) -> list[Route]:
    async def receive(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse({"error": "payload too large"}, status_code=413)
        client = request.client.host if request.client else None
        receipt = await inbox.receive(
            request.path_params["provider"], body, dict(request.headers), client
        )
        return JSONResponse(receipt.body, status_code=receipt.status_code)

    return [Route("/webhooks/{provider}", receive, methods=["POST"])]
