"""Sessions end when they should: logout, refresh reuse, password change (issue 9, #6)."""

from __future__ import annotations

import pytest
from tests.support import factories

from puente.accounts.models import RefreshToken
from puente.accounts.service import AuthFailure, AuthService, AuthTokens

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"
NEW_PASSWORD = "nueva-contrasena-9"


async def logged_in(runtime) -> tuple[AuthService, AuthTokens]:
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    tokens = await auth.login("ana@example.mx", PASSWORD)
    assert isinstance(tokens, AuthTokens)
    return auth, tokens


async def test_logout_ends_the_access_token_at_once(db, runtime):
    auth, tokens = await logged_in(runtime)
    assert await auth.authenticate(tokens.access_token) is not None
    await auth.logout(tokens.refresh_token)
    assert await auth.authenticate(tokens.access_token) is None


async def test_a_reused_refresh_token_ends_the_access_tokens_of_its_family(db, runtime):
    auth, first = await logged_in(runtime)
    second = await auth.refresh(first.refresh_token)
    assert isinstance(second, AuthTokens)
    assert await auth.authenticate(second.access_token) is not None
    replay = await auth.refresh(first.refresh_token)
    assert isinstance(replay, AuthFailure) and replay.code == "TOKEN_REUSED"
    assert await auth.authenticate(first.access_token) is None
    assert await auth.authenticate(second.access_token) is None


async def test_a_password_change_ends_every_session_and_opens_a_new_one(db, runtime):
    auth, here = await logged_in(runtime)
    elsewhere = await auth.login("ana@example.mx", PASSWORD)
    session = await auth.authenticate(here.access_token)
    changed = await auth.change_password(session, PASSWORD, NEW_PASSWORD)
    assert isinstance(changed, AuthTokens)
    for old in (here, elsewhere):
        assert await auth.authenticate(old.access_token) is None
        assert await auth.portal_session(old.refresh_token) is None
        refused = await auth.refresh(old.refresh_token)
        assert isinstance(refused, AuthFailure)
    assert (await auth.authenticate(changed.access_token)).user.email == "ana@example.mx"
    old_password = await auth.login("ana@example.mx", PASSWORD)
    assert isinstance(old_password, AuthFailure) and old_password.code == "INVALID_CREDENTIALS"
    assert isinstance(await auth.login("ana@example.mx", NEW_PASSWORD), AuthTokens)


@pytest.mark.parametrize(
    ("current", "new", "code"),
    [
        ("no-es-la-contrasena", NEW_PASSWORD, "INVALID_CREDENTIALS"),
        (PASSWORD, "corta", "WEAK_PASSWORD"),
        (PASSWORD, PASSWORD, "WEAK_PASSWORD"),
    ],
)
async def test_a_refused_password_change_changes_nothing(db, runtime, current, new, code):
    auth, tokens = await logged_in(runtime)
    session = await auth.authenticate(tokens.access_token)
    outcome = await auth.change_password(session, current, new)
    assert isinstance(outcome, AuthFailure) and outcome.code == code
    assert outcome.message  # Spanish, safe to show
    assert await auth.authenticate(tokens.access_token) is not None
    assert isinstance(await auth.login("ana@example.mx", PASSWORD), AuthTokens)


async def test_a_portal_session_whose_refresh_token_was_spent_is_over(db, runtime):
    auth, tokens = await logged_in(runtime)
    assert await auth.portal_session(tokens.refresh_token) is not None
    rotated = await auth.refresh(tokens.refresh_token)  # someone used the cookie's token
    assert isinstance(rotated, AuthTokens)
    assert await auth.portal_session(tokens.refresh_token) is None
    # Presenting a spent token is reuse: the thief's newer tokens die with the family.
    assert await auth.authenticate(rotated.access_token) is None
    assert await RefreshToken.filter(revoked_at=None).count() == 0
