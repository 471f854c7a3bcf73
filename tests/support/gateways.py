"""Payments wired to in-process provider sandboxes (no network)."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
from starlette.applications import Starlette

from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime
from puente_sandbox.app import create_sandbox_app

STRIPE = {
    "secret_key": "sk_test_puente_tests_0123456789",
    "webhook_secret": "whsec_puente_tests_abcdef",
}


class Inbox(httpx.AsyncBaseTransport):
    """Captures the sandbox's webhook deliveries (or forwards them to an app)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.target: httpx.AsyncBaseTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.append(request)
        if self.target is not None:
            return await self.target.handle_async_request(request)
        return httpx.Response(200, json={"received": True})


@dataclass
class Sandboxes:
    app: Starlette
    inbox: Inbox
    gateways: GatewayDirectory
    credentials: dict[str, dict[str, str]] = field(default_factory=dict)

    def simulator(self, name: str):
        return self.app.state.simulators[name]


def sandboxes(runtime: Runtime, credentials: dict[str, dict[str, str]] | None = None) -> Sandboxes:
    credentials = credentials or {"stripe": STRIPE}
    inbox = Inbox()
    app = create_sandbox_app(
        credentials,
        "http://puente.test/webhooks",
        transport=inbox,
        sleep=_no_sleep,
        webhook_retry_delays=(0.0, 0.0),
    )
    transport = httpx.ASGITransport(app=app)
    gateways = GatewayDirectory(
        runtime,
        transport_for=lambda provider: transport,
        base_url_for=lambda provider: f"http://sandbox.test/{provider}",
    )
    return Sandboxes(app, inbox, gateways, credentials)


async def _no_sleep(seconds: float) -> None:
    return None
