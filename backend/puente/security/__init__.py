"""Security primitives: passwords, tokens, MFA, field encryption, audit chain, rate limits.

Everything here is pure (no database, no HTTP); the services that store refresh tokens,
audit rows and lockout counters call these functions.
"""

from __future__ import annotations

__all__: list[str] = []
