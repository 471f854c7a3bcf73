"""Logging in, sessions and MFA: the one place that decides who someone is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.transactions import in_transaction

from puente.accounts.models import RefreshToken, User
from puente.accounts.throttle import (
    clear_attempts,
    refund_attempt,
    reserve_attempt,
    throttle_key,
)
from puente.audit.service import record_audit
from puente.enums import Role
from puente.runtime import Runtime
from puente.security.mfa import new_totp_secret, provisioning_uri, verify_totp_once
from puente.security.passwords import verify_missing_user_async, verify_password_async
from puente.security.ratelimit import account_rule, address_rule
from puente.security.tokens import (
    TokenError,
    decode_token,
    issue_access_token,
    issue_refresh_token,
    new_family_id,
)

__all__ = ["AuthFailure", "AuthService", "AuthTokens", "MfaEnrolment"]

MFA_CONTEXT = "users.mfa_secret"
STAFF_ROLES = frozenset({Role.STAFF, Role.ADMIN})


@dataclass(frozen=True, slots=True)
class AuthTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: int


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a login or refresh was refused; ``message`` is safe to show (Spanish)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class MfaEnrolment:
    secret: str
    uri: str


INVALID = AuthFailure("INVALID_CREDENTIALS", "Correo o contraseña incorrectos.")
LOCKED = AuthFailure(
    "LOCKED", "Cuenta bloqueada temporalmente por intentos fallidos. Intenta más tarde."
)
RATE_LIMITED = AuthFailure(
    "RATE_LIMITED", "Demasiados intentos desde tu conexión. Espera unos minutos e intenta de nuevo."
)
OTP_REQUIRED = AuthFailure("OTP_REQUIRED", "Escribe el código de tu app de autenticación.")
INVALID_OTP = AuthFailure("INVALID_OTP", "El código no es válido o ya se usó.")


class AuthService:
    """Password login with lockout and MFA, rotating refresh tokens, access-token checks."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.account_rule = account_rule(self.settings)
        self.address_rule = address_rule(self.settings)

    # -- login -----------------------------------------------------------------------------

    async def login(
        self, email: str, password: str, otp: str | None = None, *, client_ip: str | None = None
    ) -> AuthTokens | AuthFailure:
        """Check the password (and OTP when enrolled); issue tokens or say why not.

        An attempt is reserved against the client address and the account before anything is
        checked, so parallel guesses cannot outrun the lockout. Unknown emails are throttled
        and answered exactly like known ones: neither the code nor the timing says who exists.
        """
        now = self.runtime.now()
        email = email.strip().lower()
        index_key = self.runtime.index_key
        address = throttle_key("ip", client_ip, index_key) if client_ip else None
        account = throttle_key("account", email, index_key)
        if address and not await reserve_attempt(address, self.address_rule, now):
            return RATE_LIMITED
        if not await reserve_attempt(account, self.account_rule, now):
            if address:
                await refund_attempt(address, self.address_rule)  # nothing was tried
            return LOCKED
        outcome = await self._check_credentials(email, password, otp, now)
        if isinstance(outcome, User):
            await clear_attempts(account)
            if address:
                await refund_attempt(address, self.address_rule)
            return await self._open_session(outcome, now)
        if outcome is OTP_REQUIRED:
            # The password was right; asking for the code is not a failed attempt.
            await refund_attempt(account, self.account_rule)
            if address:
                await refund_attempt(address, self.address_rule)
        return outcome

    async def _check_credentials(
        self, email: str, password: str, otp: str | None, now: datetime
    ) -> User | AuthFailure:
        policy = self.runtime.password_policy
        user = await User.filter(email=email).first()
        if user is None or not user.is_active:
            # Same work as a real check, so timing does not reveal which emails exist.
            await verify_missing_user_async(password, policy)
            await self._record_failure(None, now, "password")
            return INVALID
        check = await verify_password_async(user.password_hash, password, policy)
        if not check.ok:
            await self._record_failure(user, now, "password")
            return INVALID
        if check.new_hash:
            # Rehash on login: parameters were raised since this hash was made.
            user.password_hash = check.new_hash
            await user.save(update_fields=["password_hash"])
        if user.mfa_enabled:
            if not otp:
                return OTP_REQUIRED
            if not await self._accept_otp(user, otp, now):
                await self._record_failure(user, now, "otp")
                return INVALID_OTP
        return user

    async def _open_session(self, user: User, now: datetime) -> AuthTokens:
        async with in_transaction() as tx:
            await User.filter(id=user.id).using_db(tx).update(last_login_at=now)
            tokens = await self._issue(user, new_family_id(), now, tx)
            await record_audit(
                "auth.login",
                actor_id=user.id,
                institution_id=user.institution_id,
                subject_type="user",
                subject_id=user.id,
                conn=tx,
                now=now,
            )
        return tokens

    async def _record_failure(self, user: User | None, now: datetime, reason: str) -> None:
        # Unknown emails are audited too: the same write keeps the timing the same.
        await record_audit(
            "auth.login_failed",
            actor_id=user.id if user else None,
            institution_id=user.institution_id if user else None,
            data={"reason": reason if user else "unknown_email"},
            now=now,
        )

    async def _accept_otp(self, user: User, otp: str, now: datetime) -> bool:
        if not user.mfa_secret_enc:
            return False
        secret = self.runtime.cipher.decrypt(user.mfa_secret_enc, context=MFA_CONTEXT)
        step = verify_totp_once(secret, otp, user.mfa_last_step, now)
        if step is None:
            return False
        # Conditional update: a concurrent login with the same code loses the race.
        updated = await User.filter(id=user.id, mfa_last_step=user.mfa_last_step).update(
            mfa_last_step=step
        )
        return updated == 1

    async def _issue(self, user: User, family_id: str, now: datetime, conn) -> AuthTokens:
        settings = self.settings
        access = issue_access_token(
            settings.secret_key,
            user.id,
            user.institution_id,
            user.role.value if isinstance(user.role, Role) else str(user.role),
            settings.access_token_ttl_seconds,
            now,
        )
        refresh, jti = issue_refresh_token(
            settings.secret_key, user.id, family_id, settings.refresh_token_ttl_seconds, now
        )
        await RefreshToken.create(
            jti=jti,
            user_id=user.id,
            family_id=family_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
            using_db=conn,
        )
        return AuthTokens(access, refresh, settings.access_token_ttl_seconds, user.id)

    # -- refresh and sessions --------------------------------------------------------------

    async def refresh(self, refresh_token: str) -> AuthTokens | AuthFailure:
        """Rotate: the presented token is spent and a new one issued in the same family.

        Presenting a spent token again means it was stolen (or replayed): the whole family is
        revoked, logging out whoever holds the newer token too (OAuth 2.0 BCP, reuse detection).
        """
        now = self.runtime.now()
        try:
            claims = decode_token(self.settings.secret_key, refresh_token, "refresh", now)
        except TokenError as exc:
            return AuthFailure(exc.code, "La sesión no es válida o expiró. Inicia sesión.")
        async with in_transaction() as tx:
            stored = (
                await RefreshToken.filter(jti=claims.jti).using_db(tx).select_for_update().first()
            )
            if stored is None or stored.revoked_at is not None:
                return AuthFailure("TOKEN_REVOKED", "La sesión fue cerrada. Inicia sesión.")
            if stored.used_at is not None:
                await (
                    RefreshToken.filter(family_id=stored.family_id, revoked_at=None)
                    .using_db(tx)
                    .update(revoked_at=now)
                )
                await record_audit(
                    "auth.refresh_reuse_detected",
                    actor_id=stored.user_id,
                    data={"family": stored.family_id},
                    conn=tx,
                    now=now,
                )
                return AuthFailure("TOKEN_REUSED", "La sesión fue cerrada por seguridad.")
            user = await User.filter(id=stored.user_id, is_active=True).using_db(tx).first()
            if user is None:
                return AuthFailure("TOKEN_REVOKED", "La sesión fue cerrada. Inicia sesión.")
            spent = (
                await RefreshToken.filter(jti=stored.jti, used_at=None)
                .using_db(tx)
                .update(used_at=now)
            )
            if spent != 1:
                return AuthFailure("TOKEN_REUSED", "La sesión fue cerrada por seguridad.")
            return await self._issue(user, stored.family_id, now, tx)

    async def session_user(self, refresh_token: str | None) -> User | None:
        """The user behind a portal session cookie (a refresh token), or None."""
        if not refresh_token:
            return None
        now = self.runtime.now()
        try:
            claims = decode_token(self.settings.secret_key, refresh_token, "refresh", now)
        except TokenError:
            return None
        stored = await RefreshToken.filter(
            jti=claims.jti, revoked_at=None, expires_at__gt=now
        ).first()
        if stored is None:
            return None
        return await User.filter(id=stored.user_id, is_active=True).first()

    async def logout(self, refresh_token: str | None) -> None:
        """Revoke the session's whole family."""
        if not refresh_token:
            return
        try:
            claims = decode_token(
                self.settings.secret_key, refresh_token, "refresh", self.runtime.now()
            )
        except TokenError:
            return
        await RefreshToken.filter(family_id=claims.family_id, revoked_at=None).update(
            revoked_at=self.runtime.now()
        )

    async def user_from_access_token(self, token: str) -> User | None:
        """The active user an access token names, or None when invalid or expired."""
        try:
            claims = decode_token(self.settings.secret_key, token, "access", self.runtime.now())
        except TokenError:
            return None
        return await User.filter(id=int(claims.user_id), is_active=True).first()

    # -- MFA --------------------------------------------------------------------------------

    def needs_mfa_enrolment(self, user: User) -> bool:
        """Staff and admins must enrol TOTP; the portal shows enrolment on their first login."""
        return user.role in STAFF_ROLES and not user.mfa_enabled

    async def start_mfa_enrolment(self, user: User) -> MfaEnrolment:
        """Create (or reuse the pending) TOTP secret for ``user``."""
        if user.mfa_secret_enc and not user.mfa_enabled:
            secret = self.runtime.cipher.decrypt(user.mfa_secret_enc, context=MFA_CONTEXT)
        else:
            secret = new_totp_secret()
            user.mfa_secret_enc = self.runtime.cipher.encrypt(secret, context=MFA_CONTEXT)
            await user.save(update_fields=["mfa_secret_enc"])
        return MfaEnrolment(secret, provisioning_uri(secret, user.email))

    async def confirm_mfa_enrolment(self, user: User, code: str) -> bool:
        """Turn MFA on once the user proves their app produces valid codes."""
        if not user.mfa_secret_enc or user.mfa_enabled:
            return False
        now = self.runtime.now()
        secret = self.runtime.cipher.decrypt(user.mfa_secret_enc, context=MFA_CONTEXT)
        step = verify_totp_once(secret, code, None, now)
        if step is None:
            return False
        async with in_transaction() as tx:
            await User.filter(id=user.id).using_db(tx).update(mfa_enabled=True, mfa_last_step=step)
            await record_audit(
                "auth.mfa_enabled",
                actor_id=user.id,
                institution_id=user.institution_id,
                conn=tx,
                now=now,
            )
        user.mfa_enabled = True
        user.mfa_last_step = step
        return True
