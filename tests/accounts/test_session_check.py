"""The session check every request makes: one statement, and still every way a session
ends (logout, a password change, a deactivated user) ends it at once."""

from __future__ import annotations

import pytest
from tests.support import factories
from tests.support.statements import count_statements

from puente.accounts.models import User
from puente.accounts.service import AuthService

pytestmark = pytest.mark.anyio


async def _login(runtime):
    inst = await factories.institution()
    user = await factories.user(runtime, inst)
    auth = AuthService(runtime)
    tokens = await auth.login("ana@example.mx", "contrasena-segura-1")
    return auth, user, tokens


async def test_a_live_session_is_checked_in_one_statement(db, runtime):
    auth, user, tokens = await _login(runtime)
    with count_statements() as log:
        session = await auth.authenticate(tokens.access_token)
    assert session is not None and session.user.id == user.id
    assert len(log) == 1, log.statements
    assert not hasattr(session.user, "family_revoked_jti")  # nothing extra on the user


async def test_logout_ends_the_session_at_once(db, runtime):
    auth, _, tokens = await _login(runtime)
    other = await auth.login("ana@example.mx", "contrasena-segura-1")  # another device
    await auth.logout(tokens.refresh_token)
    assert await auth.authenticate(tokens.access_token) is None
    assert await auth.authenticate(other.access_token) is not None  # its own family lives


async def test_a_new_session_version_or_a_deactivated_user_ends_it(db, runtime):
    auth, user, tokens = await _login(runtime)
    await User.filter(id=user.id).update(session_version=user.session_version + 1)
    assert await auth.authenticate(tokens.access_token) is None
    fresh = await auth.login("ana@example.mx", "contrasena-segura-1")
    assert await auth.authenticate(fresh.access_token) is not None
    await User.filter(id=user.id).update(is_active=False)
    assert await auth.authenticate(fresh.access_token) is None
