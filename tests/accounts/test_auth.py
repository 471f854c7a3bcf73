"""Login, lockout, rehash-on-login, rotating refresh tokens, MFA."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pyotp
import pytest
from tests.support import factories

from puente.accounts.models import LoginThrottle, RefreshToken, User
from puente.accounts.service import AuthFailure, AuthService, AuthTokens
from puente.enums import Role
from puente.security.passwords import PasswordPolicy, hash_password

pytestmark = pytest.mark.anyio
PASSWORD = "contrasena-segura-1"


async def test_login_issues_tokens_that_identify_the_user(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    auth = AuthService(runtime)
    tokens = await auth.login("ANA@example.mx ", PASSWORD)
    assert isinstance(tokens, AuthTokens)
    assert tokens.expires_in == runtime.settings.access_token_ttl_seconds
    session = await auth.authenticate(tokens.access_token)
    assert session is not None and session.user.id == ana.id


async def test_wrong_password_is_refused_and_counted(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    outcome = await AuthService(runtime).login("ana@example.mx", "not-the-password")
    assert outcome == AuthFailure("INVALID_CREDENTIALS", "Correo o contraseña incorrectos.")
    assert (await LoginThrottle.all().values_list("attempts", flat=True)) == [1]
    assert await RefreshToken.all().count() == 0


async def test_unknown_email_gets_the_same_answer_as_a_wrong_password(db, runtime):
    outcome = await AuthService(runtime).login("nadie@example.mx", "whatever-123")
    assert isinstance(outcome, AuthFailure) and outcome.code == "INVALID_CREDENTIALS"


async def test_repeated_failures_lock_the_account_until_the_lockout_passes(db, runtime, clock):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    for _ in range(runtime.settings.login_max_failures):
        await auth.login("ana@example.mx", "wrong-password-x")
        clock.now += timedelta(seconds=5)
    locked = await auth.login("ana@example.mx", PASSWORD)
    assert isinstance(locked, AuthFailure) and locked.code == "LOCKED"
    # Locked by the 5th failure at 12:00:20 in Mexico City, for 15 minutes.
    assert locked.message == (
        "Cuenta bloqueada temporalmente por intentos fallidos. "
        "Intenta de nuevo a las 12:15 (hora del centro de México), en 15 minutos."
    )
    clock.now += timedelta(seconds=runtime.settings.login_lockout_seconds + 1)
    assert isinstance(await auth.login("ana@example.mx", PASSWORD), AuthTokens)


async def test_old_hash_parameters_are_upgraded_on_login(db, runtime):
    inst = await factories.institution()
    ana = await factories.user(runtime, inst)
    weak = PasswordPolicy(time_cost=1, memory_cost=1024, parallelism=1)
    await User.filter(id=ana.id).update(password_hash=hash_password(PASSWORD, weak))
    assert isinstance(await AuthService(runtime).login("ana@example.mx", PASSWORD), AuthTokens)
    upgraded = (await User.get(id=ana.id)).password_hash
    assert "m=1024" not in upgraded
    policy = runtime.password_policy
    assert f"m={policy.memory_cost},t={policy.time_cost}" in upgraded


async def test_refresh_rotates_and_reuse_revokes_the_whole_family(db, runtime):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    first = await auth.login("ana@example.mx", PASSWORD)
    assert isinstance(first, AuthTokens)
    second = await auth.refresh(first.refresh_token)
    assert isinstance(second, AuthTokens) and second.refresh_token != first.refresh_token
    replay = await auth.refresh(first.refresh_token)
    assert isinstance(replay, AuthFailure) and replay.code == "TOKEN_REUSED"
    # The thief's replay also ended the legitimate holder's newer session.
    after = await auth.refresh(second.refresh_token)
    assert isinstance(after, AuthFailure) and after.code == "TOKEN_REVOKED"


async def test_expired_forged_and_alg_none_tokens_identify_nobody(db, runtime, clock):
    inst = await factories.institution()
    await factories.user(runtime, inst)
    auth = AuthService(runtime)
    tokens = await auth.login("ana@example.mx", PASSWORD)
    assert isinstance(tokens, AuthTokens)
    claims = jwt.decode(tokens.access_token, options={"verify_signature": False})
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    assert await auth.authenticate(unsigned) is None
    assert await auth.authenticate(forged) is None
    assert await auth.authenticate(tokens.refresh_token) is None  # wrong type
    clock.now += timedelta(seconds=runtime.settings.access_token_ttl_seconds + 1)
    assert await auth.authenticate(tokens.access_token) is None


async def test_mfa_enrolment_then_otp_required_and_replay_refused(db, runtime, clock):
    inst = await factories.institution()
    staff = await factories.user(runtime, inst, email="caja@example.mx", role=Role.STAFF)
    auth = AuthService(runtime)
    assert auth.needs_mfa_enrolment(staff)
    enrolment = await auth.start_mfa_enrolment(staff)
    totp = pyotp.TOTP(enrolment.secret)
    assert not await auth.confirm_mfa_enrolment(
        staff, "000000" if totp.at(clock.now) != "000000" else "111111"
    )
    assert await auth.confirm_mfa_enrolment(staff, totp.at(clock.now))
    clock.now += timedelta(seconds=60)
    needs = await auth.login("caja@example.mx", PASSWORD)
    assert isinstance(needs, AuthFailure) and needs.code == "OTP_REQUIRED"
    code = totp.at(clock.now)
    assert isinstance(await auth.login("caja@example.mx", PASSWORD, code), AuthTokens)
    replay = await auth.login("caja@example.mx", PASSWORD, code)
    assert isinstance(replay, AuthFailure) and replay.code == "INVALID_OTP"
    stored = await User.get(id=staff.id)
    assert enrolment.secret not in (stored.mfa_secret_enc or "")
