"""Password hashing with argon2id, rehash-on-login and the minimum password rules."""

from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "DEFAULT_POLICY",
    "FAST_TEST_POLICY",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PasswordCheck",
    "PasswordPolicy",
    "check_password_rules",
    "hash_password",
    "hash_password_async",
    "verify_missing_user",
    "verify_missing_user_async",
    "verify_password",
    "verify_password_async",
]

MIN_PASSWORD_LENGTH = 10
# Argon2 pre-hashes its input, but a megabyte "password" still costs CPU to read and encode;
# capping it keeps the login form from being a cheap amplifier.
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Argon2id cost parameters; changing them makes old hashes rehash on the next login."""

    time_cost: int = 3
    memory_cost: int = 65536  # KiB
    parallelism: int = 4
    hash_len: int = 32
    salt_len: int = 16

    def __post_init__(self) -> None:
        if self.time_cost < 1 or self.parallelism < 1:
            raise ValueError("time_cost and parallelism must be at least 1")
        # Argon2 itself refuses less than 8 KiB per lane.
        if self.memory_cost < 8 * self.parallelism:
            raise ValueError("memory_cost must be at least 8 KiB per unit of parallelism")


# RFC 9106 "second recommended option" (64 MiB, t=3, p=4), argon2-cffi's default since 21.2.
DEFAULT_POLICY = PasswordPolicy()
# Milliseconds per hash: for tests only, never for stored production hashes.
FAST_TEST_POLICY = PasswordPolicy(time_cost=1, memory_cost=8, parallelism=1)


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    """Outcome of a login check; ``new_hash`` is set when the caller must store an upgrade."""

    ok: bool
    new_hash: str | None = None

    def __repr__(self) -> str:
        # Keep hashes out of logs and test output even though they are not secrets per se.
        return f"PasswordCheck(ok={self.ok}, rehash={self.new_hash is not None})"


@lru_cache(maxsize=8)
def _hasher(policy: PasswordPolicy) -> PasswordHasher:
    return PasswordHasher(
        time_cost=policy.time_cost,
        memory_cost=policy.memory_cost,
        parallelism=policy.parallelism,
        hash_len=policy.hash_len,
        salt_len=policy.salt_len,
        type=Type.ID,
    )


def hash_password(password: str, policy: PasswordPolicy = DEFAULT_POLICY) -> str:
    """Hash ``password`` with argon2id under ``policy`` (PHC string, salt included)."""
    return _hasher(policy).hash(password)


def verify_password(
    stored_hash: str, password: str, policy: PasswordPolicy = DEFAULT_POLICY
) -> PasswordCheck:
    """Check ``password`` against ``stored_hash``; never raises for a wrong or malformed hash."""
    hasher = _hasher(policy)
    try:
        hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        # Mismatch, corrupt hash, unsupported variant: to the caller all mean "wrong password".
        return PasswordCheck(ok=False)
    # Rehash-on-login is the only moment we hold the plaintext, so it is the only chance to
    # move a user onto stronger parameters (or from argon2i/argon2d to argon2id).
    if hasher.check_needs_rehash(stored_hash):
        return PasswordCheck(ok=True, new_hash=hasher.hash(password))
    return PasswordCheck(ok=True)


@lru_cache(maxsize=8)
def _dummy_hash(policy: PasswordPolicy) -> str:
    return _hasher(policy).hash("puente-dummy-password-for-timing")


def verify_missing_user(password: str, policy: PasswordPolicy = DEFAULT_POLICY) -> PasswordCheck:
    """Spend the same argon2 work as a real check when the user does not exist; always fails."""
    # Without this an unknown e-mail answers in microseconds and a known one in ~50 ms,
    # which tells an attacker which accounts exist.
    verify_password(_dummy_hash(policy), password, policy)
    return PasswordCheck(ok=False)


# Argon2 is deliberately slow (tens of milliseconds of CPU and 64 MiB per check). Run on the
# event loop, eight logins at once stalled webhook acknowledgements for seconds (issue 9 #4).
# The C library releases the GIL, so a thread pool takes the work off the loop; its size
# bounds how many hashes run at once (the rest queue), leaving half the cores to the loop.
_T = TypeVar("_T")
_HASHING_THREADS = max(1, (os.cpu_count() or 2) // 2)
_hashing = ThreadPoolExecutor(max_workers=_HASHING_THREADS, thread_name_prefix="argon2")


async def _off_loop(work: partial[_T]) -> _T:
    return await asyncio.get_running_loop().run_in_executor(_hashing, work)


async def hash_password_async(password: str, policy: PasswordPolicy = DEFAULT_POLICY) -> str:
    """:func:`hash_password` on the bounded hashing pool, never on the event loop."""
    return await _off_loop(partial(hash_password, password, policy))


async def verify_password_async(
    stored_hash: str, password: str, policy: PasswordPolicy = DEFAULT_POLICY
) -> PasswordCheck:
    """:func:`verify_password` on the bounded hashing pool, never on the event loop."""
    return await _off_loop(partial(verify_password, stored_hash, password, policy))


async def verify_missing_user_async(
    password: str, policy: PasswordPolicy = DEFAULT_POLICY
) -> PasswordCheck:
    """:func:`verify_missing_user` on the bounded hashing pool, never on the event loop."""
    return await _off_loop(partial(verify_missing_user, password, policy))


def check_password_rules(password: str) -> str | None:
    """Return a Spanish message saying why ``password`` is too weak, or ``None`` if it passes."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"La contraseña debe tener al menos {MIN_PASSWORD_LENGTH} caracteres."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"La contraseña no puede tener más de {MAX_PASSWORD_LENGTH} caracteres."
    if len(set(password)) == 1:
        return "La contraseña no puede ser un mismo carácter repetido."
    return None
