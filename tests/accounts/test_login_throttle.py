"""Login lockout and per-address limits: counted before the password is checked (issue 9, #3)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from tests.conftest import make_settings
from tests.support import factories

from puente.accounts.service import AuthFailure, AuthService, AuthTokens
from puente.runtime import Runtime
from puente.security import passwords
from puente.security.passwords import FAST_TEST_POLICY

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"


async def test_parallel_guesses_are_counted_before_any_is_checked(db, runtime, monkeypatch):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    checked = []
    real_verify = passwords.verify_password

    def counting_verify(*args, **kwargs):
        checked.append(1)
        return real_verify(*args, **kwargs)

    monkeypatch.setattr(passwords, "verify_password", counting_verify)
    auth = AuthService(runtime)
    guesses = [f"adivinanza-{n:02d}" for n in range(31)]
    outcomes = await asyncio.gather(*(auth.login("ana@example.mx", g) for g in guesses))
    limit = runtime.settings.login_max_failures
    codes = [o.code for o in outcomes]
    assert codes.count("INVALID_CREDENTIALS") == limit
    assert codes.count("LOCKED") == len(guesses) - limit
    assert len(checked) == limit  # refused attempts never reach argon2
    # The right password, had it been the 32nd guess, finds the account locked.
    right = await auth.login("ana@example.mx", PASSWORD)
    assert isinstance(right, AuthFailure) and right.code == "LOCKED"


async def test_an_unknown_email_locks_exactly_like_a_known_one(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    answers = {}
    for email in ("ana@example.mx", "nadie@example.mx"):
        answers[email] = [
            await auth.login(email, "adivinanza-mala")
            for _ in range(runtime.settings.login_max_failures + 1)
        ]
    assert answers["ana@example.mx"] == answers["nadie@example.mx"]
    assert answers["nadie@example.mx"][-1].code == "LOCKED"


async def test_a_lock_made_by_one_process_holds_in_another(db, database_url, runtime, clock):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    for _ in range(runtime.settings.login_max_failures):
        await AuthService(runtime).login("ana@example.mx", "adivinanza-mala")
    # A second worker process shares nothing with the first but the database.
    other = Runtime.from_settings(runtime.settings, password_policy=FAST_TEST_POLICY, clock=clock)
    refused = await AuthService(other).login("ana@example.mx", PASSWORD)
    assert isinstance(refused, AuthFailure) and refused.code == "LOCKED"
    clock.now += timedelta(seconds=runtime.settings.login_lockout_seconds + 1)
    assert isinstance(await AuthService(other).login("ana@example.mx", PASSWORD), AuthTokens)


async def test_one_address_guessing_many_accounts_is_slowed_down(db, database_url, clock):
    runtime = Runtime.from_settings(
        make_settings(database_url, login_ip_max_failures=3),
        password_policy=FAST_TEST_POLICY,
        clock=clock,
    )
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    for n in range(3):
        wrong = await auth.login(
            f"persona{n}@example.mx", "adivinanza-mala", client_ip="203.0.113.9"
        )
        assert wrong.code == "INVALID_CREDENTIALS"
    blocked = await auth.login("ana@example.mx", PASSWORD, client_ip="203.0.113.9")
    assert isinstance(blocked, AuthFailure) and blocked.code == "RATE_LIMITED"
    assert isinstance(
        await auth.login("ana@example.mx", PASSWORD, client_ip="198.51.100.4"), AuthTokens
    )


async def test_a_successful_login_gives_the_attempts_back(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    for _ in range(3):
        for _ in range(runtime.settings.login_max_failures - 1):
            await auth.login("ana@example.mx", "adivinanza-mala", client_ip="203.0.113.9")
        ok = await auth.login("ana@example.mx", PASSWORD, client_ip="203.0.113.9")
        assert isinstance(ok, AuthTokens)
