"""Tamper-evident audit chain (pure part): canonical entry encoding, hashing and verification.

Each audit row stores ``hash = SHA-256(prev_hash || canonical_json(entry))`` and the previous
row's hash, starting from :data:`GENESIS_HASH`. Editing, deleting or reordering rows breaks
the chain from that row on. Truncating the *tail* is invisible to the chain alone: anchor the
latest hash elsewhere (a daily export, a signed checkpoint) to detect that.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, Final
from uuid import UUID

__all__ = [
    "GENESIS_HASH",
    "ChainReport",
    "canonical_json",
    "chain_hash",
    "verify_chain",
]

GENESIS_HASH: Final = "0" * 64
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


def _encode_value(value: Any) -> Any:
    # Decimals as strings: a JSON number would be re-read as float and "10.10" would hash
    # differently after a round trip through the database.
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("audit entries cannot hold NaN or infinite decimals")
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("audit datetimes must be timezone-aware")
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, Enum):
        return _encode_value(value.value)
    if isinstance(value, float):
        # Float text is platform- and database-dependent (jsonb rewrites numbers); money is Decimal.
        raise ValueError("audit entries cannot hold floats; use Decimal or str")
    raise TypeError(f"audit entries cannot hold {type(value).__name__} values")


def _prepare(value: Any) -> Any:
    # json.dumps only calls ``default`` for unknown types, so floats and Enum-ints (which it
    # accepts natively) are walked here first.
    if isinstance(value, Mapping):
        prepared = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError("audit entry keys must be strings")
            prepared[key] = _prepare(item)
        return prepared
    if isinstance(value, list | tuple):
        return [_prepare(item) for item in value]
    if value is None or isinstance(value, bool | str) or type(value) is int:
        return value
    return _encode_value(value)


def canonical_json(entry: Mapping[str, Any]) -> str:
    """Serialise ``entry`` deterministically: sorted keys, no whitespace, Decimals as strings."""
    return json.dumps(
        _prepare(entry),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )


def chain_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """Return the SHA-256 hex digest linking ``entry`` to the row before it."""
    if not _HEX64.fullmatch(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    return hashlib.sha256((prev_hash + canonical_json(entry)).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """Result of :func:`verify_chain`; ``checked`` counts rows verified before the first bad one."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None


def verify_chain(
    entries: Iterable[tuple[int, str, str, Mapping[str, Any]]],
    *,
    start_prev_hash: str = GENESIS_HASH,
    start_seq: int | None = None,
) -> ChainReport:
    """Walk ``(seq, prev_hash, hash, entry)`` rows in storage order and report the first break.

    Pass rows ordered by ``seq``. To verify from a checkpoint instead of the beginning, give the
    hash of the row before the first one as ``start_prev_hash`` (and its ``seq + 1`` as
    ``start_seq``).
    """
    expected_prev = start_prev_hash
    expected_seq = start_seq
    checked = 0
    for seq, prev_hash, stored_hash, entry in entries:
        if expected_seq is not None and seq != expected_seq:
            reason = (
                f"sequence gap: expected {expected_seq}, found {seq} (entry deleted or reordered)"
                if seq > expected_seq
                else f"sequence out of order: expected {expected_seq}, found {seq} (reordered)"
            )
            return ChainReport(False, checked, seq, reason)
        if prev_hash != expected_prev:
            reason = "prev_hash does not match the previous entry (deleted or reordered)"
            return ChainReport(False, checked, seq, reason)
        try:
            recomputed = chain_hash(prev_hash, entry)
        except (TypeError, ValueError) as exc:
            return ChainReport(False, checked, seq, f"entry cannot be canonicalised: {exc}")
        if recomputed != stored_hash:
            return ChainReport(False, checked, seq, "hash does not match the entry (modified)")
        checked += 1
        expected_prev = stored_hash
        expected_seq = seq + 1
    return ChainReport(True, checked)
