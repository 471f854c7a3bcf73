"""Fault injection for simulators: latency, 5xx, hangs, lost responses, webhook disorder.

``Faults`` is the live, mutable setting of one simulator; tests change its fields directly and
people use ``POST /sandbox/{provider}/_faults`` (JSON with the same field names). The
``FaultInjector`` middleware applies it to the provider's API paths only; admin paths (``/_``)
and hosted pages always work, so a tester can switch a fault off again.
"""

from __future__ import annotations

import json
import random as _random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["FaultInjector", "Faults", "route_path"]

ErrorBody = Callable[[int], Mapping[str, Any]]


@dataclass
class Faults:
    """What goes wrong on purpose; every field off by default."""

    latency: float = 0.0  # seconds added before each API request is handled
    error_rate: float = 0.0  # probability of an injected error before handling
    fail_next: int = 0  # the next N API requests fail before handling (nothing happens)
    error_status: int = 503
    retry_after: float | None = None  # Retry-After header sent with injected errors
    lose_next: int = 0  # the next N are handled, then answered with an error (response lost)
    timeout_next: int = 0  # the next N hang for ``hang_seconds`` and then answer 504
    timeout_rate: float = 0.0
    hang_seconds: float = 30.0
    duplicate_webhooks: bool = False  # deliver every event twice
    out_of_order_webhooks: bool = False  # deliver each batch of events in reverse order
    # Counters (read-only for callers): what reached the API and what was injected.
    api_requests: int = 0
    injected: int = 0

    _COUNTERS = ("api_requests", "injected")

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply settings by name; unknown names or wrong types raise ``ValueError``."""
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known or name in self._COUNTERS:
                raise ValueError(f"unknown fault setting {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{name} must be true or false")
            elif name == "retry_after":
                if value is not None and not isinstance(value, int | float):
                    raise ValueError("retry_after must be a number or null")
            elif isinstance(current, int | float) and (
                isinstance(value, bool) or not isinstance(value, int | float) or value < 0
            ):
                raise ValueError(f"{name} must be a non-negative number")
            setattr(self, name, value)

    def reset(self) -> None:
        """Everything back off (counters kept)."""
        for f in fields(self):
            if f.name not in self._COUNTERS:
                setattr(self, f.name, f.default)

    def as_dict(self) -> dict[str, Any]:
        """The settings and counters as JSON-ready values."""
        return asdict(self)


def route_path(scope: Scope) -> str:
    """The path inside this app, without the prefix it is mounted under."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


class FaultInjector:
    """ASGI middleware applying ``Faults`` to API requests of one simulator."""

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        error_body: ErrorBody,
        *,
        is_api: Callable[[str], bool] = lambda path: not path.startswith("/_"),
        sleep: Callable[[float], Awaitable[None]] | None = None,
        random: Callable[[], float] | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.error_body = error_body
        self.is_api = is_api
        self.sleep = sleep or anyio.sleep
        self.random = random or _random.random

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.is_api(route_path(scope)):
            await self.app(scope, receive, send)
            return
        faults = self.faults
        faults.api_requests += 1
        if faults.latency:
            await self.sleep(faults.latency)
        if faults.timeout_next or (faults.timeout_rate and self.random() < faults.timeout_rate):
            faults.timeout_next = max(0, faults.timeout_next - 1)
            faults.injected += 1
            await self.sleep(faults.hang_seconds)
            await self._error(send, 504)
            return
        if faults.fail_next or (faults.error_rate and self.random() < faults.error_rate):
            faults.fail_next = max(0, faults.fail_next - 1)
            faults.injected += 1
            await self._error(send, faults.error_status)
            return
        if faults.lose_next:
            faults.lose_next -= 1
            faults.injected += 1

            async def swallow(message: Message) -> None:
                return None  # the provider did the work; the answer never reaches the client

            await self.app(scope, receive, swallow)
            await self._error(send, faults.error_status)
            return
        await self.app(scope, receive, send)

    async def _error(self, send: Send, status: int) -> None:
        body = json.dumps(self.error_body(status)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        if self.faults.retry_after is not None:
            headers.append((b"retry-after", f"{self.faults.retry_after:g}".encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
