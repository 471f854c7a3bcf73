"""Login throttles in the database: an attempt is reserved *before* the password is checked.

Checking the count, verifying, then recording a failure let 31 parallel guesses all be
evaluated (issue 9 #3). Here one conditional ``UPDATE`` takes an attempt or
refuses it, atomically on SQLite and PostgreSQL and across processes; a success gives the
attempt back (or clears the account's count). Times are epoch seconds so the comparisons are
plain integers on both engines.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from tortoise.connection import get_connection

from puente.accounts.models import LoginThrottle
from puente.security.ratelimit import ThrottleRule

__all__ = ["blocked_until", "clear_attempts", "refund_attempt", "reserve_attempt", "throttle_key"]

# A lock that has run out, or a window that has passed, starts the count again.
_FRESH = "(blocked_until <= {now} AND (window_start <= {now} - {window} OR attempts >= {limit}))"
_NEXT = f"(CASE WHEN {_FRESH} THEN 1 ELSE attempts + 1 END)"
_RESERVE = f"""UPDATE login_throttles SET
  attempts = {_NEXT},
  window_start = CASE WHEN {_FRESH} THEN {{now}} ELSE window_start END,
  blocked_until = CASE WHEN {_NEXT} >= {{limit}} THEN {{now}} + {{window}} ELSE blocked_until END
WHERE key = {{key}} AND ({_FRESH} OR (attempts < {{limit}} AND blocked_until <= {{now}}))"""
_REFUND = """UPDATE login_throttles SET
  attempts = attempts - 1,
  blocked_until = CASE WHEN attempts - 1 < {limit} THEN 0 ELSE blocked_until END
WHERE key = {key} AND attempts > 0"""


def throttle_key(kind: str, value: str, index_key: bytes) -> str:
    """A fixed-size key for an email or address; the table never holds either in clear."""
    digest = hmac.new(index_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:64]}"


_INSERT = """INSERT INTO login_throttles (key, attempts, window_start, blocked_until)
VALUES ({key}, 0, 0, 0) ON CONFLICT (key) DO NOTHING"""


async def _execute(template: str, **values: object) -> int:
    conn = get_connection("default")
    # Numbered placeholders may repeat: ?1 on SQLite, $1 on PostgreSQL. Only the names the
    # statement uses are bound (PostgreSQL refuses a parameter it cannot type).
    mark = "?" if conn.capabilities.dialect == "sqlite" else "$"
    used = [name for name in values if "{" + name + "}" in template]
    sql = template.format(**{name: f"{mark}{n}" for n, name in enumerate(used, start=1)})
    changed, _ = await conn.execute_query(sql, [values[name] for name in used])
    return changed


async def reserve_attempt(key: str, rule: ThrottleRule, now: datetime) -> bool:
    """Take one attempt for ``key``; False means the key is blocked (do not check anything).

    The statement changes the row only when an attempt is left, so the row count is the answer.
    """
    await _execute(_INSERT, key=key)
    taken = await _execute(
        _RESERVE,
        key=key,
        now=int(now.timestamp()),
        window=rule.window_seconds,
        limit=rule.max_attempts,
    )
    return taken == 1


async def refund_attempt(key: str, rule: ThrottleRule) -> None:
    """Give back an attempt that turned out not to be a failure."""
    await _execute(_REFUND, key=key, limit=rule.max_attempts)


async def clear_attempts(key: str) -> None:
    """Forget the count (the account's owner proved who they are)."""
    await LoginThrottle.filter(key=key).delete()


async def blocked_until(key: str, now: datetime) -> datetime | None:
    """When a blocked key may try again (None: it is not blocked now)."""
    row = await LoginThrottle.get_or_none(key=key)
    if row is None or row.blocked_until <= int(now.timestamp()):
        return None
    return datetime.fromtimestamp(row.blocked_until, tz=now.tzinfo)
