"""Long-lived streams end with their session, and the streams woken by one notice ask about
their sessions together: one query pair, not two queries each (issue 15 #5)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from types import SimpleNamespace

import pytest
from tests.support import factories
from tortoise.transactions import in_transaction

from puente.accounts.models import User
from puente.accounts.service import AuthService, AuthTokens
from puente.accounts.streams import (
    SessionChecks,
    SessionEnded,
    session_check,
    while_session_lasts,
)
from puente.events.fanout import LocalFanout

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
STREAMS = 20


async def _sessions(runtime, count: int = 2):
    """Ana logged in ``count`` times (sessions of one user), and Beto once."""
    inst = await factories.institution()
    await factories.user(runtime, inst)
    await factories.user(runtime, inst, email="beto@example.mx")
    auth = AuthService(runtime)
    tokens = [await auth.login("ana@example.mx", PASSWORD) for _ in range(count)]
    tokens.append(await auth.login("beto@example.mx", PASSWORD))
    assert all(isinstance(t, AuthTokens) for t in tokens)
    sessions = [await auth.authenticate(t.access_token) for t in tokens]
    assert all(s is not None for s in sessions)
    return auth, tokens, sessions


async def _revoke_family(auth, clock, tokens, sessions):
    await auth.logout(tokens[0].refresh_token)


async def _reuse_refresh_token(auth, clock, tokens, sessions):
    assert isinstance(await auth.refresh(tokens[0].refresh_token), AuthTokens)
    await auth.refresh(tokens[0].refresh_token)  # replayed: the whole family ends


async def _end_every_session(auth, clock, tokens, sessions):
    """What a password change or reset and MFA enrolment do to the user's other sessions."""
    async with in_transaction() as tx:
        await auth.end_every_session(sessions[0].user, auth.runtime.now(), tx)


async def _change_password(auth, clock, tokens, sessions):
    changed = await auth.change_password(sessions[0], PASSWORD, "nueva-contrasena-9")
    assert isinstance(changed, AuthTokens)


async def _deactivate(auth, clock, tokens, sessions):
    await User.filter(id=sessions[0].user.id).update(is_active=False)


async def _expire(auth, clock, tokens, sessions):
    clock.now = sessions[0].expires_at + timedelta(seconds=1)


ENDINGS = {
    "logout": (_revoke_family, [False, True, True]),
    "refresh reuse": (_reuse_refresh_token, [False, True, True]),
    "every session of the user": (_end_every_session, [False, False, True]),
    "password change": (_change_password, [False, False, True]),
    "deactivation": (_deactivate, [False, False, True]),
    # Every session here was opened at the same instant: expiry ends them all.
    "expiry": (_expire, [False, False, False]),
}


@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_still_valid_many_answers_as_still_valid_does(db, runtime, clock, ending):
    auth, tokens, sessions = await _sessions(runtime)
    assert await auth.still_valid_many(sessions) == [True, True, True]
    end, expected = ENDINGS[ending]
    await end(auth, clock, tokens, sessions)
    one_by_one = [await auth.still_valid(s) for s in sessions]
    assert one_by_one == expected
    assert await auth.still_valid_many(sessions) == expected


async def test_still_valid_many_of_nothing_asks_nothing(db, runtime):
    assert await AuthService(runtime).still_valid_many([]) == []


def _counting(monkeypatch, auth) -> list[int]:
    sizes: list[int] = []
    real = auth.still_valid_many

    async def counted(sessions):
        sizes.append(len(sessions))
        return await real(sessions)

    monkeypatch.setattr(auth, "still_valid_many", counted)
    return sizes


async def _open(fanout, channel, auth, sessions, every=60.0):
    streams = [
        while_session_lasts(fanout.add(channel), session_check(auth, session), every)
        for session in sessions
    ]
    return streams


async def _next_each(streams) -> list:
    return await asyncio.wait_for(
        asyncio.gather(*(anext(s) for s in streams), return_exceptions=True), 10
    )


async def test_the_streams_woken_by_one_notice_ask_together(db, runtime, monkeypatch):
    auth, _, sessions = await _sessions(runtime)
    sizes = _counting(monkeypatch, auth)
    fanout, channel = LocalFanout(), "loan:1"
    streams = await _open(fanout, channel, auth, [sessions[0], sessions[1]] * STREAMS)
    first = asyncio.gather(*(anext(s) for s in streams))
    await asyncio.sleep(0)  # every stream waits on its inbox
    fanout.deliver(channel, {"loan": 1})
    received = await asyncio.wait_for(first, 10)
    assert received == [{"loan": 1}] * (2 * STREAMS)
    # One batch for the 40 streams, and each distinct session asked about once in it.
    assert sizes == [2]
    for stream in streams:
        await stream.aclose()


async def test_a_revoked_session_among_many_ends_only_its_streams(db, runtime):
    auth, tokens, sessions = await _sessions(runtime)
    fanout, channel = LocalFanout(), "loan:1"
    ana, ana_elsewhere, beto = sessions
    streams = await _open(fanout, channel, auth, [ana, ana_elsewhere, beto] * STREAMS)
    pending = [asyncio.ensure_future(anext(s)) for s in streams]
    await asyncio.sleep(0)
    await auth.logout(tokens[1].refresh_token)  # the second of Ana's sessions ends
    fanout.deliver(channel, {"loan": 1})
    outcomes = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 10)
    for number, outcome in enumerate(outcomes):
        if number % 3 == 1:
            assert isinstance(outcome, SessionEnded)
        else:
            assert outcome == {"loan": 1}
    for stream in streams:
        await stream.aclose()


async def test_an_idle_stream_ends_when_its_session_is_revoked(db, runtime):
    """No notice at all: the periodic recheck ends it (logout in another tab)."""
    auth, tokens, sessions = await _sessions(runtime)
    fanout = LocalFanout()
    (stream,) = await _open(fanout, "loan:1", auth, sessions[:1], every=0.05)
    reading = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.12)
    assert not reading.done()  # checked, still valid: still waiting
    await auth.logout(tokens[0].refresh_token)
    with pytest.raises(SessionEnded):
        await asyncio.wait_for(reading, 5)
    await stream.aclose()


# -- the recheck clock, without a database ---------------------------------------------------


def _always(answer: bool = True):
    asked: list[int] = []

    async def still_valid() -> bool:
        asked.append(1)
        return answer

    return still_valid, asked


async def test_no_notice_is_lost_to_a_recheck_firing_as_it_arrives():
    """The clock interrupts a waiting reader; an inbox loses nothing to that."""
    fanout = LocalFanout(limit=10_000)
    still_valid, asked = _always()
    stream = while_session_lasts(fanout.add("c"), still_valid, every=0.0002)
    sent = 300
    received: list[int] = []

    async def read() -> None:
        while len(received) < sent:
            received.append((await anext(stream))["n"])

    reader = asyncio.ensure_future(read())
    for number in range(sent):
        fanout.deliver("c", {"n": number})
        await asyncio.sleep(0 if number % 3 else 0.0005)
    await asyncio.wait_for(reader, 10)
    assert received == list(range(sent))
    assert len(asked) > sent  # the clock did fire in between
    await stream.aclose()


async def test_cancelling_a_waiting_reader_is_not_taken_for_a_recheck():
    fanout = LocalFanout()
    still_valid, _ = _always()
    stream = while_session_lasts(fanout.add("c"), still_valid, every=0.001)
    reader = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)  # the clock has fired a few times meanwhile
    reader.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reader
    with contextlib.suppress(RuntimeError, StopAsyncIteration):
        await stream.aclose()


async def test_a_failing_check_fails_every_asker_of_its_batch():
    async def broken(sessions):
        raise ConnectionError("database gone")

    checks = SessionChecks(broken)
    session = SimpleNamespace(
        user=SimpleNamespace(id=1, session_version=1), family_id="f", expires_at=None
    )
    outcomes = await asyncio.gather(
        *(checks.still_valid(session) for _ in range(5)),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert all(isinstance(o, ConnectionError) for o in outcomes)
    assert checks.batches == 1
