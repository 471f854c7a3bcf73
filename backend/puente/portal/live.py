"""Live portal updates over Server-Sent Events, swapped in by the htmx SSE extension.

A stream subscribes to one bus channel (a payment transition publishes on ``loan:{id}``
after it committed), sends the current state first, then a fresh render after every
notice: bus messages only say *what* changed, so a lost or reordered notice can never show
a wrong figure, only a late one. A comment line every ``heartbeat`` seconds keeps proxies
from closing an idle stream. The stream ends when the client leaves (the response watches
for the disconnect itself, whatever ASGI version the server speaks), or after ``max_age``,
when EventSource reconnects on its own and gets the current state again; either way the bus
subscription is released.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import anyio
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from puente.accounts.streams import while_session_lasts
from puente.events.bus import EventBus
from puente.shutdown import StopNotice

__all__ = ["EventStreamResponse", "live_events", "sse_event"]

Render = Callable[[], Awaitable[Sequence[tuple[str, str]]]]  # -> [(event name, html)]


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` that stops streaming as soon as the client disconnects."""

    media_type = "text/event-stream"

    def __init__(self, content: AsyncIterator[str]) -> None:
        super().__init__(
            content,
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette only listens for http.disconnect under ASGI < 2.4 and otherwise learns of
        # it at the next write; an idle stream would hold its subscription until then.
        async with anyio.create_task_group() as group:

            async def stream() -> None:
                await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(stream)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


def sse_event(name: str, data: str) -> str:
    """One SSE event; every line of ``data`` gets its own ``data:`` field."""
    lines = data.splitlines() or [""]
    return f"event: {name}\n" + "".join(f"data: {line}\n" for line in lines) + "\n"


async def _next(notices: AsyncIterator[Any]) -> Any:
    return await anext(notices)


async def live_events(
    bus: EventBus,
    channel: str,
    render: Render,
    *,
    heartbeat: float = 15.0,
    max_age: float = 300.0,
    still_valid: Callable[[], Awaitable[bool]] | None = None,
    recheck: float = 15.0,
    stopping: StopNotice | None = None,
) -> AsyncIterator[str]:
    """The events of one page: ``render()`` now, then again after each notice on ``channel``.

    With ``still_valid`` the stream also ends when the viewer's session expires or is revoked
    (asked every ``recheck`` seconds); EventSource then reconnects and is refused. With
    ``stopping`` it ends as soon as the process is asked to stop (``shutdown.py``): the
    server waits for open responses before it can exit, and EventSource reconnects elsewhere.
    """
    subscription = bus.subscribe(channel)
    notices = await subscription.__aenter__()  # subscribe before reading: no change is missed
    if still_valid is not None:
        notices = while_session_lasts(notices, still_valid, recheck)
    waiting: asyncio.Task[Any] | None = None
    stopped = asyncio.create_task((stopping or StopNotice()).wait())
    try:
        for name, html in await render():
            yield sse_event(name, html)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max_age
        waiting = asyncio.create_task(_next(notices))
        while (remaining := deadline - loop.time()) > 0:
            done, _ = await asyncio.wait(
                {waiting, stopped},
                timeout=min(heartbeat, remaining),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if stopped in done:
                return  # the server is stopping: let it (EventSource reconnects)
            if not done:
                yield ": ping\n\n"
                continue
            if waiting.exception() is not None:
                return  # the bus closed or broke: end here; EventSource reconnects
            for name, html in await render():
                yield sse_event(name, html)
            waiting = asyncio.create_task(_next(notices))
    finally:
        # Cleanup must run even though the request's scope is being cancelled (a Redis
        # subscription is released with awaits).
        with anyio.CancelScope(shield=True):
            for task in (waiting, stopped):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await task
            if isinstance(notices, AsyncGenerator):
                with contextlib.suppress(Exception):
                    await notices.aclose()
            await subscription.__aexit__(None, None, None)
