"""Telling long-lived responses that the process is stopping.

On SIGTERM (or Ctrl-C) uvicorn stops accepting connections, then waits for every open
response to finish, and only then runs the app's lifespan shutdown. A Server-Sent Events
stream of the portal or the staff console does not finish by itself (it lives up to
``portal.live`` ``max_age``, five minutes), so one open browser tab kept ``puente serve``
alive that long. ASGI has no "the server is stopping" message, so while the app runs its
lifespan chains the process's stop signals: the handler uvicorn installed still runs first
(its graceful shutdown is unchanged), and ``StopNotice`` is set, so every stream ends at once
and EventSource reconnects, to another process behind the load balancer. The server's own
deadline (``puente serve``: ``shutdown_grace_seconds``) bounds whatever else stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["STOP_SIGNALS", "StopNotice", "notify_on_stop_signals"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StopNotice:
    """Set once when the process is asked to stop; ``wait`` from any event loop."""

    def __init__(self) -> None:
        self._stopping = False
        self._waiters: set[asyncio.Future[None]] = set()

    @property
    def stopping(self) -> bool:
        return self._stopping

    def set(self) -> None:
        """Wake every waiter (call it on the event loop's thread)."""
        self._stopping = True
        for waiter in list(self._waiters):
            waiter.get_loop().call_soon_threadsafe(_resolve, waiter)

    async def wait(self) -> None:
        """Return once the process is stopping (at once if it already is)."""
        if self._stopping:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await waiter
        finally:
            self._waiters.discard(waiter)


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


Handler = Callable[[int, FrameType | None], Any]


@contextlib.contextmanager
def notify_on_stop_signals(notice: StopNotice) -> Iterator[None]:
    """While inside, SIGTERM and SIGINT also set ``notice`` (from the running loop's thread).

    Only a signal somebody already handles (a callable handler: uvicorn's, Python's
    KeyboardInterrupt) is chained, and that handler still runs; outside the main thread
    (signals cannot be handled there) this does nothing. The handlers are restored on exit.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Handler] = {}

    def chained(sig: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(notice.set)
        previous[sig](sig, frame)

    for sig in STOP_SIGNALS:
        handler = signal.getsignal(sig)
        if callable(handler):
            previous[sig] = handler
            signal.signal(sig, chained)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is chained:
                signal.signal(sig, handler)
