"""Password reset by email: a single-use link that expires (the token is stored hashed).

``issue_reset`` makes the link (the caller sends it: ``notifications.account_notices``);
``reset_password`` spends it once, sets the new password and ends every session. Asking
for a link answers the same whether or not the email exists, and is throttled per email.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from puente.accounts.models import PasswordResetToken, User
from puente.accounts.service import AuthFailure, AuthService
from puente.accounts.throttle import clear_attempts, reserve_attempt, throttle_key
from puente.audit.service import record_audit
from puente.runtime import Runtime
from puente.security.passwords import check_password_rules, hash_password_async
from puente.security.ratelimit import ThrottleRule

__all__ = ["INVALID_LINK", "IssuedReset", "issue_reset", "reset_password", "token_hash"]

# Links one email may ask for per hour: enough for "it did not arrive", not for a flood.
REQUESTS_PER_HOUR = ThrottleRule(max_attempts=5, window_seconds=3600)
INVALID_LINK = AuthFailure(
    "INVALID_RESET_LINK", "El enlace no es válido, ya se usó o venció. Pide uno nuevo."
)


@dataclass(frozen=True, slots=True)
class IssuedReset:
    user: User
    token: str  # only in the email; the database keeps its SHA-256
    minutes: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_reset(runtime: Runtime, email: str) -> IssuedReset | None:
    """A new reset link for an active account (None: no such account, or asked too often)."""
    email = email.strip().lower()[:254]
    now = runtime.now()
    if not await reserve_attempt(
        throttle_key("reset", email, runtime.index_key), REQUESTS_PER_HOUR, now
    ):
        return None
    user = await User.get_or_none(email=email)
    if user is None or not user.is_active:
        return None
    token = secrets.token_urlsafe(32)
    ttl = runtime.settings.password_reset_ttl_seconds
    await PasswordResetToken.create(
        user_id=user.id, token_hash=token_hash(token), expires_at=now + timedelta(seconds=ttl)
    )
    return IssuedReset(user=user, token=token, minutes=max(1, ttl // 60))


async def reset_password(runtime: Runtime, token: str, new_password: str) -> AuthFailure | None:
    """Spend the link and set ``new_password`` (None: done; every session ended)."""
    if not token or len(token) > 100:
        return INVALID_LINK
    now = runtime.now()
    row = await PasswordResetToken.get_or_none(
        token_hash=token_hash(token), used_at__isnull=True, expires_at__gt=now
    )
    if row is None:
        return INVALID_LINK
    problem = check_password_rules(new_password)
    if problem:
        return AuthFailure("WEAK_PASSWORD", problem)
    new_hash = await hash_password_async(new_password, runtime.password_policy)
    async with in_transaction() as tx:
        # Single use, even when two requests race with the same link.
        spent = (
            await PasswordResetToken.filter(id=row.id, used_at__isnull=True)
            .using_db(tx)
            .update(used_at=now)
        )
        if spent != 1:
            return INVALID_LINK
        user = await User.get(id=row.user_id).using_db(tx)
        await User.filter(id=user.id).using_db(tx).update(password_hash=new_hash)
        await AuthService(runtime).end_every_session(user, now, tx)
        await record_audit(
            "auth.password_reset",
            actor_id=user.id,
            institution_id=user.institution_id,
            subject_type="user",
            subject_id=user.id,
            conn=tx,
            now=now,
        )
    # The owner proved they read the mailbox: a lockout from guesses ends here.
    await clear_attempts(throttle_key("account", user.email, runtime.index_key))
    return None
