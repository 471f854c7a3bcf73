"""What the simulator tests share: a clock moved by hand and Puente's webhook endpoint."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["Clock", "Inbox"]


class Clock:
    """Wall-clock seconds the test moves by hand."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Inbox:
    """Puente's webhook endpoint, as far as the simulator can tell."""

    statuses: list[int] = field(default_factory=list)  # answers to give, then 200
    received: list[httpx.Request] = field(default_factory=list)
    reply: dict[str, Any] | None = None  # JSON body of every answer (STP expects one)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        status = self.statuses.pop(0) if self.statuses else 200
        return httpx.Response(status, json=self.reply)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.received]

    def types(self) -> list[str]:
        return [body["type"] for body in self.bodies()]
