"""``POST /webhooks/{provider}``: the REST door for provider events."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from puente.db import STORAGE_ERRORS
from puente.webhooks.inbox import WebhookInbox

__all__ = ["MAX_WEBHOOK_BYTES", "webhook_routes"]

logger = logging.getLogger("puente.webhooks")

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
        try:
            receipt = await inbox.receive(
                request.path_params["provider"], body, dict(request.headers), client
            )
        except STORAGE_ERRORS:
            # Not stored, so never acknowledged: the provider keeps the event and retries.
            logger.warning("webhook not stored: database unavailable", exc_info=True)
            return JSONResponse(
                {"error": "storage unavailable, retry later"},
                status_code=503,
                headers={"retry-after": "30"},
            )
        return JSONResponse(receipt.body, status_code=receipt.status_code)

    return [Route("/webhooks/{provider}", receive, methods=["POST"])]
