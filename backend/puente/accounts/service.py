"""Logging in, sessions and MFA: the one place that decides who someone is."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F, Subquery
from tortoise.transactions import in_transaction

from puente.accounts.access import Session, authorized_user, needs_mfa_enrolment, scope_for
from puente.accounts.models import RefreshToken, User
from puente.accounts.throttle import (
    blocked_until,
    clear_attempts,
    refund_attempt,
    reserve_attempt,
    throttle_key,
)
from puente.audit.service import record_audit
from puente.enums import Role
from puente.runtime import MEXICO_CITY, Runtime
from puente.security.mfa import new_totp_secret, provisioning_uri, verify_totp_once
from puente.security.passwords import (
    check_password_rules,
    hash_password_async,
    verify_missing_user_async,
    verify_password_async,
)
from puente.security.ratelimit import account_rule, address_rule
from puente.security.tokens import (
    SCOPE_FULL,
    TokenClaims,
    TokenError,
    decode_token,
    issue_access_token,
    issue_refresh_token,
    new_family_id,
)

__all__ = ["MFA_CONTEXT", "AuthFailure", "AuthService", "AuthTokens", "MfaEnrolment", "Session"]

MFA_CONTEXT = "users.mfa_secret"
_FAMILY_REVOKED = "family_revoked_jti"  # read with the user by _live_session, then dropped
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AuthTokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user_id: int
    scope: str = SCOPE_FULL  # SCOPE_MFA_ENROLMENT: staff who must enrol before anything else


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


def try_again_at(failure: AuthFailure, until: datetime | None, now: datetime) -> AuthFailure:
    """``failure`` saying when the lock ends, in Mexico City time and in minutes from now."""
    if until is None:
        return failure
    minutes = max(1, -(-int((until - now).total_seconds()) // 60))
    local = until.astimezone(MEXICO_CITY)
    when = f"a las {local:%H:%M} (hora del centro de México), en {minutes} " + (
        "minuto" if minutes == 1 else "minutos"
    )
    head = failure.message.split(" Intenta")[0].split(" Espera")[0]
    return AuthFailure(failure.code, f"{head} Intenta de nuevo {when}.")


RATE_LIMITED = AuthFailure(
    "RATE_LIMITED", "Demasiados intentos desde tu conexión. Espera unos minutos e intenta de nuevo."
)
OTP_REQUIRED = AuthFailure("OTP_REQUIRED", "Escribe el código de tu app de autenticación.")
INVALID_OTP = AuthFailure("INVALID_OTP", "El código no es válido o ya se usó.")
SESSION_ENDED = AuthFailure("TOKEN_REVOKED", "La sesión fue cerrada. Inicia sesión.")
REUSED = AuthFailure("TOKEN_REUSED", "La sesión fue cerrada por seguridad.")

_CHUNK = 500  # ids per IN (...) list: well under SQLite's and PostgreSQL's parameter limits


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


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
            return try_again_at(RATE_LIMITED, await blocked_until(address, now), now)
        if not await reserve_attempt(account, self.account_rule, now):
            if address:
                await refund_attempt(address, self.address_rule)  # nothing was tried
            return try_again_at(LOCKED, await blocked_until(account, now), now)
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
            return await self._new_session(user, now, tx, "auth.login")

    async def _new_session(
        self, user: User, now: datetime, tx: BaseDBAsyncClient, action: str
    ) -> AuthTokens:
        """A new token family for ``user``, audited as ``action`` in the same transaction."""
        tokens = await self._issue(user, new_family_id(), now, tx)
        await record_audit(
            action,
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

    async def _issue(
        self, user: User, family_id: str, now: datetime, conn, scope: str | None = None
    ) -> AuthTokens:
        settings = self.settings
        scope = scope or scope_for(user)
        session = {"session_version": user.session_version, "scope": scope}
        access = issue_access_token(
            settings.secret_key,
            user.id,
            user.institution_id,
            user.role.value if isinstance(user.role, Role) else str(user.role),
            settings.access_token_ttl_seconds,
            now,
            family_id=family_id,
            **session,
        )
        refresh, jti = issue_refresh_token(
            settings.secret_key,
            user.id,
            family_id,
            settings.refresh_token_ttl_seconds,
            now,
            **session,
        )
        await RefreshToken.create(
            jti=jti,
            user_id=user.id,
            family_id=family_id,
            issued_at=now,
            expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
            using_db=conn,
        )
        return AuthTokens(access, refresh, settings.access_token_ttl_seconds, user.id, scope)

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
                return SESSION_ENDED
            if stored.used_at is not None:
                await self._revoke_family(stored, now, tx)
                return REUSED
            user = await User.filter(id=stored.user_id, is_active=True).using_db(tx).first()
            if user is None or user.session_version != claims.session_version:
                return SESSION_ENDED
            spent = (
                await RefreshToken.filter(jti=stored.jti, used_at=None)
                .using_db(tx)
                .update(used_at=now)
            )
            if spent != 1:
                return REUSED
            return await self._issue(user, stored.family_id, now, tx)

    async def _revoke_family(self, stored: RefreshToken, now: datetime, conn) -> None:
        await (
            RefreshToken.filter(family_id=stored.family_id, revoked_at=None)
            .using_db(conn)
            .update(revoked_at=now)
        )
        await record_audit(
            "auth.refresh_reuse_detected",
            actor_id=stored.user_id,
            data={"family": stored.family_id},
            conn=conn,
            now=now,
        )

    async def authenticate(self, access_token: str | None) -> Session | None:
        """The live session an access token belongs to, or None.

        Checked on every request (once per request, the doors cache it): signature and expiry,
        then the user's session version (password change, enrolment) and the family's
        revocation (logout, refresh-token reuse), so a revoked token dies at once.
        """
        if not access_token:
            return None
        now = self.runtime.now()
        try:
            claims = decode_token(self.settings.secret_key, access_token, "access", now)
        except TokenError:
            return None
        return await self._live_session(claims)

    async def portal_session(self, refresh_token: str | None) -> Session | None:
        """The session behind a portal cookie (a refresh token), or None.

        The portal never spends its token, so a spent one means someone else used it: that is
        reuse, and the whole family ends, as it would through ``refresh``.
        """
        if not refresh_token:
            return None
        now = self.runtime.now()
        try:
            claims = decode_token(self.settings.secret_key, refresh_token, "refresh", now)
        except TokenError:
            return None
        stored = await RefreshToken.filter(jti=claims.jti).first()
        if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
            return None
        if stored.used_at is not None:
            async with in_transaction() as tx:
                await self._revoke_family(stored, now, tx)
            return None
        return await self._live_session(claims)

    async def _live_session(self, claims: TokenClaims) -> Session | None:
        # One statement on every request: the user, and a revoked token of the session's
        # family if there is one (a subquery), so logout and reuse still end it at once.
        revoked = RefreshToken.filter(family_id=claims.family_id, revoked_at__isnull=False).limit(1)
        user = (
            await User.filter(id=int(claims.user_id), is_active=True)
            .annotate(**{_FAMILY_REVOKED: Subquery(revoked.values("jti"))})
            .first()
        )
        if user is None or user.session_version != claims.session_version:
            return None
        if user.__dict__.pop(_FAMILY_REVOKED, None) is not None:
            return None
        return Session(user, claims.scope, claims.family_id, claims.expires_at)

    async def still_valid(self, session: Session) -> bool:
        """Whether a long-lived stream (subscription, SSE) may keep going."""
        if self.runtime.now() >= session.expires_at:
            return False
        user = await User.filter(id=session.user.id, is_active=True).first()
        if user is None or user.session_version != session.user.session_version:
            return False
        return not await RefreshToken.filter(
            family_id=session.family_id, revoked_at__isnull=False
        ).exists()

    async def still_valid_many(self, sessions: Sequence[Session]) -> list[bool]:
        """``still_valid`` for many sessions at once: one query pair per chunk, not per session.

        The streams woken by one notice all ask at the same moment (issue 15 #5); the answer
        is the same as asking each of them: expiry, an active user whose session version is
        unchanged, and a family with no revoked token.
        """
        now = self.runtime.now()
        live = [session for session in sessions if now < session.expires_at]
        versions: dict[int, int] = {}
        revoked: set[str] = set()
        for ids in _chunks(sorted({session.user.id for session in live})):
            rows = await User.filter(id__in=ids, is_active=True).values_list(
                "id", "session_version"
            )
            versions.update(rows)  # type: ignore[arg-type]
        for families in _chunks(sorted({session.family_id for session in live})):
            found = await (
                RefreshToken.filter(family_id__in=families, revoked_at__isnull=False)
                .distinct()
                .values_list("family_id", flat=True)
            )
            revoked.update(found)  # type: ignore[arg-type]
        return [
            now < session.expires_at
            and versions.get(session.user.id) == session.user.session_version
            and session.family_id not in revoked
            for session in sessions
        ]

    async def logout(self, refresh_token: str | None) -> None:
        """Revoke the session's whole family (its access tokens stop working at once)."""
        if not refresh_token:
            return
        try:
            claims = decode_token(
                self.settings.secret_key, refresh_token, "refresh", self.runtime.now()
            )
        except TokenError:
            return
        await self.end_session(claims.family_id)

    async def end_session(self, family_id: str) -> None:
        """Revoke one session (a login and every token rotated from it)."""
        await RefreshToken.filter(family_id=family_id, revoked_at=None).update(
            revoked_at=self.runtime.now()
        )

    async def end_every_session(self, user: User, now: datetime, conn) -> None:
        """Log ``user`` out everywhere (password reset, password change, MFA enrolment)."""
        await self._end_every_session(user, now, conn)

    async def _end_every_session(self, user: User, now: datetime, conn) -> None:
        # The version bump kills access tokens in flight; revoking the refresh tokens keeps
        # the table honest about which sessions are over.
        await (
            User.filter(id=user.id).using_db(conn).update(session_version=F("session_version") + 1)
        )
        await (
            RefreshToken.filter(user_id=user.id, revoked_at=None)
            .using_db(conn)
            .update(revoked_at=now)
        )
        user.session_version = (
            await User.filter(id=user.id).using_db(conn).values_list("session_version", flat=True)
        )[0]

    # -- password change --------------------------------------------------------------------

    async def change_password(
        self, session: Session, current: str, new: str
    ) -> AuthTokens | AuthFailure:
        """Check the current password, store the new one and end every session of the user.

        The caller gets a fresh session back; every other device must log in again.
        """
        user = authorized_user(session)
        if user is None:
            return SESSION_ENDED
        now = self.runtime.now()
        account = throttle_key("account", user.email, self.runtime.index_key)
        # A stolen session must not become a free password-guessing oracle.
        if not await reserve_attempt(account, self.account_rule, now):
            return try_again_at(LOCKED, await blocked_until(account, now), now)
        policy = self.runtime.password_policy
        if not (await verify_password_async(user.password_hash, current, policy)).ok:
            await self._record_failure(user, now, "password_change")
            return INVALID
        await clear_attempts(account)
        problem = check_password_rules(new)
        if problem is None and new == current:
            problem = "La contraseña nueva debe ser distinta de la actual."
        if problem:
            return AuthFailure("WEAK_PASSWORD", problem)
        new_hash = await hash_password_async(new, policy)
        async with in_transaction() as tx:
            await User.filter(id=user.id).using_db(tx).update(password_hash=new_hash)
            await self._end_every_session(user, now, tx)
            return await self._new_session(user, now, tx, "auth.password_changed")

    # -- MFA --------------------------------------------------------------------------------

    def needs_mfa_enrolment(self, user: User) -> bool:
        """Staff and admins must enrol TOTP; the portal shows enrolment on their first login."""
        return needs_mfa_enrolment(user)

    async def start_mfa_enrolment(self, user: User) -> MfaEnrolment:
        """Create (or reuse the pending) TOTP secret for ``user``."""
        if user.mfa_secret_enc and not user.mfa_enabled:
            secret = self.runtime.cipher.decrypt(user.mfa_secret_enc, context=MFA_CONTEXT)
        else:
            secret = new_totp_secret()
            user.mfa_secret_enc = self.runtime.cipher.encrypt(secret, context=MFA_CONTEXT)
            await user.save(update_fields=["mfa_secret_enc"])
        return MfaEnrolment(secret, provisioning_uri(secret, user.email))

    async def confirm_mfa_enrolment(self, user: User, code: str) -> AuthTokens | None:
        """Turn MFA on once the user's app produces a valid code; a new full session begins.

        Every earlier token of the user (the enrolment-scoped one included) ends here.
        """
        if not user.mfa_secret_enc or user.mfa_enabled:
            return None
        now = self.runtime.now()
        secret = self.runtime.cipher.decrypt(user.mfa_secret_enc, context=MFA_CONTEXT)
        step = verify_totp_once(secret, code, None, now)
        if step is None:
            return None
        async with in_transaction() as tx:
            enabled = (
                await User.filter(id=user.id, mfa_enabled=False)
                .using_db(tx)
                .update(mfa_enabled=True, mfa_last_step=step)
            )
            if enabled != 1:
                return None  # a concurrent confirmation won
            user.mfa_enabled = True
            user.mfa_last_step = step
            await self._end_every_session(user, now, tx)
            tokens = await self._issue(user, new_family_id(), now, tx)
            await record_audit(
                "auth.mfa_enabled",
                actor_id=user.id,
                institution_id=user.institution_id,
                conn=tx,
                now=now,
            )
        return tokens
