"""Fan-out inside one process: one notice, every local subscriber of its channel.

Both buses end here: the in-memory bus hands a published message straight to
:class:`LocalFanout`, the Redis bus hands it what its one subscription connection reads.
Delivery never waits for a subscriber. Each subscriber has its own bounded :class:`Inbox`;
when a slow one is full its *oldest* notice is dropped, never anyone else's, and never the
newest (notices only say what changed; the subscriber reloads the current state, so the
newest notice is the one that matters).

One :class:`Notice` object is delivered to every subscriber of a channel in the process, so
work that is the same for all of them (reloading the payment the notice names) is done once
through :meth:`Notice.once`.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = [
    "INBOX_LIMIT",
    "RESYNC",
    "Inbox",
    "LocalFanout",
    "Notice",
    "Shared",
    "reload_once",
    "reload_soon",
]

T = TypeVar("T")

# Notices kept per subscriber. A notice means "reload", so a reader this far behind loses
# nothing it needs by dropping the oldest; the limit only bounds memory per stuck reader.
INBOX_LIMIT = 100

# Sent to every subscriber after the bus lost and regained its source (a Redis restart):
# anything published meanwhile is gone, so every subscriber reloads once.
RESYNC: Mapping[str, Any] = {"resync": True}


class Notice(dict[str, Any]):
    """A bus message (read-only by convention) shared by every local subscriber of it."""

    __slots__ = ("_shared",)

    def __init__(self, message: Mapping[str, Any]) -> None:
        super().__init__(message)
        self._shared: dict[Hashable, Shared[Any]] = {}

    async def once(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """``load()`` run once for this notice in this process; every caller gets its result.

        Subscribers of one channel share a notice, so the first caller reloads the state and
        the rest (concurrent or later) await the same answer (issue 15: one reload per event
        per process, not one per subscriber).
        """
        return await self.start(key, load).wait()

    def start(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> Shared[T]:
        """``load()`` started now for this notice (once), without waiting for it."""
        shared = self._shared.get(key)
        if shared is None:
            shared = self._shared[key] = Shared(asyncio.ensure_future(load()))
        return shared


class Shared(Generic[T]):
    """One answer awaited by many, each through a future of its own: a waiter that leaves
    (is cancelled) cancels only its own, never the answer. Like ``asyncio.shield``, at one
    scheduling step per waiter instead of two (it counts at a thousand waiters an event).
    """

    __slots__ = ("_waiters", "answer")

    def __init__(self, answer: asyncio.Future[T]) -> None:
        self.answer = answer
        self._waiters: list[asyncio.Future[T]] = []
        answer.add_done_callback(self._hand_out)

    def wait(self) -> asyncio.Future[T]:
        """What to await for the answer (the answer itself once it is there: no step)."""
        if self.answer.done():
            return self.answer
        waiter: asyncio.Future[T] = self.answer.get_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    def _hand_out(self, answer: asyncio.Future[T]) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():
                continue  # its reader left
            if answer.cancelled():
                waiter.cancel()
            elif (error := answer.exception()) is not None:
                waiter.set_exception(error)
            else:
                waiter.set_result(answer.result())


async def reload_once(
    notice: Mapping[str, Any], key: Hashable, load: Callable[[], Awaitable[T]]
) -> T:
    """The state ``notice`` announces, loaded once per process (see :meth:`Notice.once`).

    A message that did not come through a :class:`LocalFanout` is not shared: loaded here.
    """
    if isinstance(notice, Notice):
        return await notice.once(key, load)
    return await load()


def reload_soon(notice: Mapping[str, Any], key: Hashable, load: Callable[[], Awaitable[T]]) -> None:
    """Start what :func:`reload_once` will want, so it is there when asked (or on its way).

    A subscriber's stream reads a notice, then checks its session before passing it on;
    starting the reload at the read lets both run together, and the later
    ``reload_once`` finds the answer ready instead of waiting once more.
    """
    if isinstance(notice, Notice):
        notice.start(key, load)


class Inbox:
    """One subscriber's notices: bounded, newest kept, iterated until the bus closes."""

    __slots__ = ("_closed", "_notices", "_ready", "dropped")

    # Cancelling a wait for the next notice loses nothing (it is taken only once there), so
    # a reader may wait under a timeout without a task of its own (``while_session_lasts``).
    cancel_safe = True

    def __init__(self, limit: int = INBOX_LIMIT) -> None:
        self._notices: collections.deque[Notice] = collections.deque(maxlen=limit)
        self._ready = asyncio.Event()
        self._closed = False
        self.dropped = 0

    def put(self, notice: Notice) -> None:
        if len(self._notices) == self._notices.maxlen:
            self.dropped += 1  # the deque drops the oldest itself
        self._notices.append(notice)
        self._ready.set()

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> Inbox:
        return self

    async def __anext__(self) -> Notice:
        while not self._notices:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._notices.popleft()


class LocalFanout:
    """The subscribers of this process, by channel."""

    def __init__(self, limit: int = INBOX_LIMIT) -> None:
        self.channels: dict[str, set[Inbox]] = {}
        self._limit = limit

    def add(self, channel: str) -> Inbox:
        inbox = Inbox(self._limit)
        self.channels.setdefault(channel, set()).add(inbox)
        return inbox

    def remove(self, channel: str, inbox: Inbox) -> None:
        inboxes = self.channels.get(channel)
        if inboxes is not None:
            inboxes.discard(inbox)
            if not inboxes:
                del self.channels[channel]

    def deliver(self, channel: str, message: Mapping[str, Any]) -> None:
        """``message`` to every subscriber of ``channel``, without waiting for any."""
        inboxes = self.channels.get(channel)
        if inboxes:
            notice = Notice(message)
            for inbox in inboxes:
                inbox.put(notice)

    def resync(self) -> None:
        """Tell every subscriber to reload (what was published while we were deaf is lost)."""
        for channel in list(self.channels):
            self.deliver(channel, RESYNC)

    def close(self) -> None:
        """End every subscription's iteration (the bus is shutting down)."""
        for inbox in self._all():
            inbox.close()
        self.channels.clear()

    def __len__(self) -> int:
        return sum(len(inboxes) for inboxes in self.channels.values())

    def _all(self) -> Iterator[Inbox]:
        for inboxes in self.channels.values():
            yield from inboxes
