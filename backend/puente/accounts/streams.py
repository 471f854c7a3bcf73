"""Long-lived streams (GraphQL subscriptions, the portal's SSE) end with their session.

A token is checked when a stream opens; without this, a subscription kept streaming long
after its token expired or its session was revoked (issue 9 #6). The stream's source is read
while ``still_valid`` is asked again every ``every`` seconds and before each item is passed
on; when the answer is no, :class:`SessionEnded` is raised in the consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

__all__ = ["SessionEnded", "while_session_lasts"]

T = TypeVar("T")


class SessionEnded(Exception):
    """The session behind a stream expired or was revoked."""


async def _next(source: AsyncIterator[T]) -> T:
    return await anext(source)


async def while_session_lasts(
    source: AsyncIterator[T], still_valid: Callable[[], Awaitable[bool]], every: float
) -> AsyncIterator[T]:
    """Items of ``source`` for as long as ``still_valid()`` says yes."""
    pending: asyncio.Task[T] = asyncio.create_task(_next(source))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not await still_valid():
                raise SessionEnded
            if not done:
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            yield item
            pending = asyncio.create_task(_next(source))
    finally:
        pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, Exception):
            await pending
