"""Delivering a simulator's events to the configured webhook URL, signed, with retries.

Events queue up while a request changes state; ``flush`` sends them once the response is out
(the simulator's middleware calls it). Each attempt is signed afresh, as real providers do,
so a retry carries a new timestamp. Faults can duplicate deliveries or reverse their order.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from puente_sandbox.faults import Faults

__all__ = ["Delivery", "FlushWebhooks", "WebhookSender"]

logger = logging.getLogger("puente_sandbox")

Sign = Callable[[bytes, int], Mapping[str, str]]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery attempt, kept for the admin page and tests."""

    event_id: str
    event_type: str
    attempt: int
    at: float
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True if the receiver answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """Queues events and POSTs them to ``url`` with the provider's signature headers."""

    def __init__(
        self,
        url: str | None,
        sign: Sign,
        *,
        faults: Faults,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        retry_delays: tuple[float, ...] = (1.0, 5.0, 25.0),
        timeout: float = 10.0,
        user_agent: str = "puente-sandbox",
    ) -> None:
        self.url = url
        self.sign = sign
        self.faults = faults
        self.transport = transport
        self.clock = clock
        self.sleep = sleep or anyio.sleep
        self.retry_delays = retry_delays
        self.timeout = timeout
        self.user_agent = user_agent
        self.pending: list[Mapping[str, Any]] = []
        self.deliveries: list[Delivery] = []

    def enqueue(self, event: Mapping[str, Any]) -> None:
        """Queue an event; it goes out on the next ``flush``."""
        self.pending.append(event)

    async def flush(self) -> None:
        """Deliver everything queued (with faults applied); failures are retried, then dropped."""
        batch, self.pending = self.pending, []
        if not batch or not self.url:
            return
        if self.faults.out_of_order_webhooks:
            batch.reverse()
        copies = 2 if self.faults.duplicate_webhooks else 1
        async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
            for event in batch:
                for _ in range(copies):
                    await self._deliver(client, event)

    async def _deliver(self, client: httpx.AsyncClient, event: Mapping[str, Any]) -> None:
        assert self.url is not None
        body = json.dumps(event, indent=2).encode()
        event_id, event_type = str(event.get("id", "")), str(event.get("type", ""))
        for attempt, delay in enumerate((0.0, *self.retry_delays), start=1):
            if delay:
                await self.sleep(delay)
            headers = {
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": self.user_agent,
                **self.sign(body, int(self.clock())),
            }
            try:
                response = await client.post(self.url, content=body, headers=headers)
            except httpx.HTTPError as exc:
                record = Delivery(event_id, event_type, attempt, self.clock(), error=str(exc))
            else:
                record = Delivery(event_id, event_type, attempt, self.clock(), response.status_code)
            self.deliveries.append(record)
            if record.ok:
                return
            logger.info(
                "webhook %s attempt %d failed: %s",
                event_id,
                attempt,
                record.error or record.status_code,
            )
        logger.warning(
            "webhook %s (%s) given up after %d attempts",
            event_id,
            event_type,
            1 + len(self.retry_delays),
        )


class FlushWebhooks:
    """ASGI middleware: after each request has been answered, deliver the events it queued."""

    def __init__(self, app: ASGIApp, sender: WebhookSender) -> None:
        self.app = app
        self.sender = sender

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            if scope["type"] == "http" and self.sender.pending:
                # Shielded: a client that hangs up must not cancel the provider's deliveries.
                with anyio.CancelScope(shield=True):
                    await self.sender.flush()
