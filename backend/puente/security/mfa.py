"""Second factor: TOTP (RFC 6238) with replay protection, and single-use recovery codes.

Recovery codes are hashed with argon2id (:data:`RECOVERY_CODE_POLICY`), not a salted SHA-256:
a code has ~40 bits of entropy, which a GPU exhausts against a fast hash in minutes if the
table leaks, while argon2 makes each guess cost memory and milliseconds.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Final

import pyotp

from puente.security._clock import require_aware
from puente.security.passwords import PasswordPolicy, hash_password, verify_password

__all__ = [
    "RECOVERY_CODE_ALPHABET",
    "RECOVERY_CODE_POLICY",
    "generate_recovery_codes",
    "hash_recovery_code",
    "new_totp_secret",
    "normalize_recovery_code",
    "provisioning_uri",
    "verify_recovery_code",
    "verify_totp",
    "verify_totp_once",
]

_TOTP_CODE: Final = re.compile(r"[0-9]{6}")
# No 0/o, 1/l/i: codes are read off paper and typed by hand.
RECOVERY_CODE_ALPHABET: Final = "23456789abcdefghjkmnpqrstuvwxyz"
_RECOVERY_CODE: Final = re.compile(f"[{RECOVERY_CODE_ALPHABET}]{{8}}")
# OWASP's minimum argon2id setting (19 MiB, t=2, p=1): a login may try up to ten codes,
# so each check must stay in the tens of milliseconds.
RECOVERY_CODE_POLICY: Final = PasswordPolicy(time_cost=2, memory_cost=19456, parallelism=1)


def new_totp_secret() -> str:
    """Return a new random base32 TOTP secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str, issuer: str = "Puente") -> str:
    """Return the ``otpauth://`` URI an authenticator app scans as a QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def _clean_code(code: str) -> str | None:
    # Authenticator apps show "123 456"; accept the space but nothing else that is not 6 digits
    # (str.isdigit would also accept "١٢٣٤٥٦" and superscripts).
    cleaned = code.strip().replace(" ", "") if isinstance(code, str) else ""
    return cleaned if _TOTP_CODE.fullmatch(cleaned) else None


def verify_totp(secret: str, code: str, now: datetime | None = None, valid_window: int = 1) -> bool:
    """Return True if ``code`` matches the current step (± ``valid_window`` steps of 30 s)."""
    return verify_totp_once(secret, code, None, now, valid_window=valid_window) is not None


def verify_totp_once(
    secret: str,
    code: str,
    last_used_step: int | None,
    now: datetime | None = None,
    *,
    valid_window: int = 1,
) -> int | None:
    """Return the accepted time step (store it) or ``None``; steps ≤ ``last_used_step`` are refused.

    RFC 6238 §5.2: a verifier must not accept the same OTP twice. Remembering the last accepted
    step also refuses older codes still inside the window once a newer one has been used.
    """
    cleaned = _clean_code(code)
    if cleaned is None:
        return None
    if valid_window < 0:
        raise ValueError("valid_window must not be negative")
    totp = pyotp.TOTP(secret)
    current = totp.timecode(require_aware(now))
    accepted = None
    for step in range(current - valid_window, current + valid_window + 1):
        if last_used_step is not None and step <= last_used_step:
            continue
        # Compare every candidate (no early exit) so timing does not reveal the matching step.
        if hmac.compare_digest(totp.generate_otp(step), cleaned) and accepted is None:
            accepted = step
    return accepted


def generate_recovery_codes(count: int = 10) -> list[str]:
    """Return ``count`` random human-typable codes like ``k7q2-m9xd`` (shown once, then hashed)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(8))
        codes.append(f"{raw[:4]}-{raw[4:]}")
    return codes


def normalize_recovery_code(code: str) -> str | None:
    """Return the canonical 8-character form of a typed code, or ``None`` if it cannot be one."""
    cleaned = re.sub(r"[\s-]", "", code).lower() if isinstance(code, str) else ""
    return cleaned if _RECOVERY_CODE.fullmatch(cleaned) else None


def hash_recovery_code(code: str, policy: PasswordPolicy = RECOVERY_CODE_POLICY) -> str:
    """Hash one recovery code (argon2id, per-code salt) for storage."""
    cleaned = normalize_recovery_code(code)
    if cleaned is None:
        raise ValueError("not a recovery code in the xxxx-xxxx format")
    return hash_password(cleaned, policy)


def verify_recovery_code(
    code: str, stored_hashes: Sequence[str], policy: PasswordPolicy = RECOVERY_CODE_POLICY
) -> int | None:
    """Return the index of the stored hash ``code`` matches (the caller deletes it), or ``None``."""
    cleaned = normalize_recovery_code(code)
    if cleaned is None:
        # Refuse garbage before spending argon2 work on it.
        return None
    for index, stored in enumerate(stored_hashes):
        if verify_password(stored, cleaned, policy).ok:
            return index
    return None
