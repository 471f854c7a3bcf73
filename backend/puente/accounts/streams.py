"""Long-lived streams (GraphQL subscriptions, the portal's SSE) end with their session.

A token is checked when a stream opens; without this, a subscription kept streaming long
after its token expired or its session was revoked (issue 9 #6). The stream's source is read
while ``still_valid`` is asked again every ``every`` seconds and before each item is passed
on; when the answer is no, :class:`SessionEnded` is raised in the consumer.

One notice wakes every stream of its channel at once, and each asks before passing it on.
:func:`session_check` makes those questions one batch: every check asked in the same moment
(the same turn of the event loop, give or take one) is answered by one query pair
(:meth:`AuthService.still_valid_many`) started *after* it was asked, so a batched answer is
exactly as fresh as asking alone: a session revoked before the notice ends the stream before
the notice is passed on (issue 15 #5; before, 1,000 subscribers cost 2,000 queries a notice).
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Sequence
from functools import partial
from typing import Protocol, TypeVar

from puente.accounts.access import Session

__all__ = ["SessionChecks", "SessionEnded", "session_check", "while_session_lasts"]

T = TypeVar("T")


class SessionEnded(Exception):
    """The session behind a stream expired or was revoked."""


class SessionAuthority(Protocol):
    """What answers for sessions (``AuthService``)."""

    async def still_valid_many(self, sessions: Sequence[Session]) -> list[bool]: ...


class SessionChecks:
    """``still_valid`` questions asked together, answered with one ``still_valid_many``."""

    def __init__(self, check_many: Callable[[Sequence[Session]], Awaitable[list[bool]]]) -> None:
        self._check_many = check_many
        self._pending: dict[Hashable, tuple[Session, list[asyncio.Future[bool]]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.batches = 0  # how many batches were sent (tests, metrics)

    async def still_valid(self, session: Session) -> bool:
        loop = asyncio.get_running_loop()
        if not self._pending or self._loop is not loop:
            # A new batch; it is sent once everyone woken with us has asked (see _send).
            self._pending, self._loop = {}, loop
            sending = loop.create_task(self._send(self._pending))
            self._sending.add(sending)  # the loop keeps only a weak reference to a task
            sending.add_done_callback(self._sending.discard)
        user = session.user
        key = (user.id, user.session_version, session.family_id, session.expires_at)
        entry = self._pending.get(key)
        if entry is None:
            entry = self._pending[key] = (session, [])
        # A future per asker: one that leaves (is cancelled) cancels only its own.
        answer: asyncio.Future[bool] = loop.create_future()
        entry[1].append(answer)
        return await answer

    async def _send(
        self, batch: dict[Hashable, tuple[Session, list[asyncio.Future[bool]]]]
    ) -> None:
        # A task's first step runs on the loop's next turn; one more yield lets the streams
        # woken one turn later (a notice reaches its readers through a task of their own)
        # join the same batch. A question asked from here on starts the next batch.
        await asyncio.sleep(0)
        if self._pending is batch:
            self._pending = {}
        self.batches += 1
        entries = list(batch.values())
        try:
            answers = await self._check_many([session for session, _ in entries])
        except asyncio.CancelledError:
            for _, futures in entries:
                for future in futures:
                    future.cancel()
            raise
        except Exception as error:  # noqa: BLE001 - every asker gets the failure, as alone
            for _, futures in entries:
                for future in futures:
                    if not future.done():
                        future.set_exception(error)
            return
        for (_, futures), answer in zip(entries, answers, strict=True):
            for future in futures:
                if not future.done():
                    future.set_result(answer)


_CHECKS: weakref.WeakKeyDictionary[SessionAuthority, SessionChecks] = weakref.WeakKeyDictionary()


def session_check(auth: SessionAuthority, session: Session) -> Callable[[], Awaitable[bool]]:
    """The ``still_valid`` for a stream of ``session``, batched with ``auth``'s other streams."""
    checks = _CHECKS.get(auth)
    if checks is None:
        # Weakly: the checks must not keep ``auth`` (their dictionary key) alive.
        owner = weakref.ref(auth)

        async def check_many(sessions: Sequence[Session]) -> list[bool]:
            answering = owner()
            if answering is None:  # pragma: no cover - auth is gone, so are its streams
                return [False] * len(sessions)
            return await answering.still_valid_many(sessions)

        checks = _CHECKS[auth] = SessionChecks(check_many)
    return partial(checks.still_valid, session)


async def _next(source: AsyncIterator[T]) -> T:
    return await anext(source)


class _Recheck:
    """Every ``every`` seconds, interrupts a reader blocked on its source so it asks again.

    One timer per stream that re-arms itself, instead of a timeout armed and disarmed around
    every item (a fifth of a 1,000-subscriber event's cost). The interruption is a
    cancellation of the reading task, told apart from a real one as ``asyncio.timeout``
    does (``Task.uncancel``), and only delivered while the reader waits on its source.
    """

    __slots__ = ("_base", "_every", "_handle", "_loop", "_task", "fired")

    def __init__(self, every: float) -> None:
        self._loop = asyncio.get_running_loop()
        self._every = every
        self._task: asyncio.Task[object] | None = None
        self._base = 0
        self.fired = False
        self._handle = self._loop.call_later(every, self._tick)

    def waiting(self) -> None:
        """The reader is about to block on its source (the only place it may be cut)."""
        self._task = asyncio.current_task()
        self._base = self._task.cancelling() if self._task is not None else 0

    def done_waiting(self) -> None:
        self._task = None

    def interrupted(self) -> bool:
        """Whether the ``CancelledError`` just caught was this clock's (then it is undone)."""
        task, self._task = self._task, None
        if not self.fired or task is None:
            return False
        self.fired = False
        return task.uncancel() <= self._base

    def stop(self) -> None:
        self._handle.cancel()

    def _tick(self) -> None:
        self._handle = self._loop.call_later(self._every, self._tick)
        if self._task is not None and not self.fired:
            self.fired = True
            self._task.cancel()


async def while_session_lasts(
    source: AsyncIterator[T],
    still_valid: Callable[[], Awaitable[bool]],
    every: float,
    prepare: Callable[[T], object] | None = None,
) -> AsyncIterator[T]:
    """Items of ``source`` for as long as ``still_valid()`` says yes.

    ``prepare(item)`` is called as an item is read, before the check (to start work the
    item will need; nothing of it reaches the consumer unless the check says yes).

    A source whose ``cancel_safe`` is true (a bus inbox: cancelling a wait for its next item
    loses nothing, and a cancellation reaches the reader) is read directly, interrupted by a
    :class:`_Recheck` clock; any other
    through a task of its own, so the periodic check never cancels it halfway through an item.
    """
    if getattr(source, "cancel_safe", False):
        # Inline, not a generator of its own: an extra layer costs at a thousand streams.
        clock = _Recheck(every)
        try:
            while True:
                clock.waiting()
                try:
                    item = await anext(source)
                except asyncio.CancelledError:
                    if not clock.interrupted():
                        raise
                    if not await still_valid():
                        raise SessionEnded from None
                    continue
                except StopAsyncIteration:
                    return
                clock.done_waiting()
                if prepare is not None:
                    prepare(item)
                if not await still_valid():
                    raise SessionEnded
                yield item
        finally:
            clock.stop()
    pending: asyncio.Task[T] = asyncio.create_task(_next(source))
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=every)
            if done and prepare is not None and pending.exception() is None:
                prepare(pending.result())
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
