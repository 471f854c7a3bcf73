"""Field-level encryption (AES-256-GCM with key ids) and blind indexes for encrypted fields.

A stored field looks like ``v1.<key_id>.<nonce>.<ciphertext+tag>`` (base64url, no padding),
so every value says which key sealed it and keys can rotate without a flag day:
the first configured key encrypts, all configured keys decrypt, and :meth:`FieldCipher.reencrypt`
moves old values onto the current key.

The ``context`` (e.g. ``"borrower_profile.curp"``) is bound as associated data: a ciphertext
copied into another column or another table's row refuses to decrypt there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Sequence
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "TOKEN_VERSION",
    "DecryptionError",
    "FieldCipher",
    "blind_index",
    "derive_index_key",
]

TOKEN_VERSION: Final = "v1"
_KEY_BYTES: Final = 32  # AES-256
_NONCE_BYTES: Final = 12  # 96-bit nonce, the size GCM is specified for (NIST SP 800-38D)
_TAG_BYTES: Final = 16
_INDEX_KEY_INFO: Final = b"puente/blind-index/v1"
_B64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


class DecryptionError(Exception):
    """A field token could not be decrypted; the message never includes the token."""


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    # urlsafe_b64decode silently drops characters outside the alphabet; be strict instead.
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_context(context: str) -> bytes:
    if not context:
        raise ValueError("context must name the field, e.g. 'borrower_profile.curp'")
    if "\x00" in context:
        raise ValueError("context must not contain NUL")
    return context.encode()


class FieldCipher:
    """Encrypts field values under the first ``(key_id, key)`` and decrypts under any of them."""

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        if not keys:
            raise ValueError("FieldCipher needs at least one encryption key")
        ciphers: dict[str, AESGCM] = {}
        for key_id, key in keys:
            # Key ids travel inside the token between dots, so keep them to a safe alphabet.
            if not key_id or not key_id.isascii() or not key_id.isalnum():
                raise ValueError("encryption key ids must be non-empty ASCII letters/digits")
            if len(key) != _KEY_BYTES:
                raise ValueError(f"encryption key {key_id!r} must be {_KEY_BYTES} bytes")
            if key_id in ciphers:
                raise ValueError(f"encryption key id {key_id!r} appears twice")
            ciphers[key_id] = AESGCM(key)
        self._current_id = keys[0][0]
        self._ciphers = ciphers

    def __repr__(self) -> str:
        return f"FieldCipher(current={self._current_id!r}, key_ids={list(self._ciphers)!r})"

    @property
    def current_key_id(self) -> str:
        """The id of the key new values are encrypted under."""
        return self._current_id

    @staticmethod
    def _aad(key_id: str, context: bytes) -> bytes:
        # Binding version and key id too means a token relabelled with another id (even one that
        # maps to the same key bytes by misconfiguration) fails instead of decrypting.
        return b"%s.%s\x00%s" % (TOKEN_VERSION.encode(), key_id.encode(), context)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """Encrypt ``plaintext`` under the current key, bound to ``context``."""
        aad = self._aad(self._current_id, _check_context(context))
        # A random 96-bit nonce is safe for far more than 2**32 values under one key before
        # collision risk matters; rotation (a new key) resets that budget anyway.
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._ciphers[self._current_id].encrypt(nonce, plaintext.encode(), aad)
        return ".".join((TOKEN_VERSION, self._current_id, _b64encode(nonce), _b64encode(sealed)))

    def _parse(self, token: str) -> tuple[str, bytes, bytes]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 4 or parts[0] != TOKEN_VERSION:
            raise DecryptionError("not a v1 field token")
        _, key_id, nonce_text, sealed_text = parts
        try:
            nonce, sealed = _b64decode(nonce_text), _b64decode(sealed_text)
        except (ValueError, binascii.Error):
            raise DecryptionError("field token is not valid base64url") from None
        if len(nonce) != _NONCE_BYTES or len(sealed) < _TAG_BYTES:
            raise DecryptionError("field token has a malformed nonce or ciphertext")
        return key_id, nonce, sealed

    def decrypt(self, token: str, *, context: str) -> str:
        """Decrypt a field token; raise :class:`DecryptionError` on tamper, wrong context or key."""
        aad_context = _check_context(context)
        key_id, nonce, sealed = self._parse(token)
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            # Most likely an old key was removed from PUENTE_ENCRYPTION_KEYS before reencrypting.
            raise DecryptionError("field token uses an encryption key that is not configured")
        try:
            plaintext = cipher.decrypt(nonce, sealed, self._aad(key_id, aad_context))
        except InvalidTag:
            raise DecryptionError(
                f"field token failed authentication for context {context!r} "
                "(tampered, wrong key or wrong context)"
            ) from None
        try:
            return plaintext.decode()
        except UnicodeDecodeError:
            raise DecryptionError("decrypted field is not UTF-8") from None

    def needs_reencrypt(self, token: str) -> bool:
        """Return True when ``token`` was sealed under a key other than the current one."""
        key_id, _, _ = self._parse(token)
        return key_id != self._current_id

    def reencrypt(self, token: str, *, context: str) -> str:
        """Return ``token`` sealed under the current key (a fresh nonce even if already current)."""
        return self.encrypt(self.decrypt(token, context=context), context=context)


def derive_index_key(secret_key: str | bytes) -> bytes:
    """Derive the 32-byte blind-index key from ``PUENTE_SECRET_KEY`` with HKDF-SHA256."""
    material = secret_key.encode() if isinstance(secret_key, str) else secret_key
    if len(material) < 32:
        raise ValueError("secret key must be at least 32 bytes to derive the blind-index key")
    # A dedicated HKDF "info" separates this key from every other use of the secret (JWT HMAC).
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INDEX_KEY_INFO).derive(
        material
    )


def blind_index(value: str, *, context: str, index_key: bytes) -> str:
    """Return a deterministic HMAC-SHA256 hex digest of ``value`` for equality lookups.

    The index key must stay stable across encryption-key rotation (that is why it is derived
    from the secret key, not from the rotating encryption keys): changing it means recomputing
    every stored index. Normalise ``value`` first (e.g. the output of ``validate_curp``) so
    ``"boxw…"`` and ``"BOXW…"`` index alike. ``context`` keeps equal values in different fields
    from producing equal indexes.
    """
    if len(index_key) < 32:
        raise ValueError("index_key must be at least 32 bytes")
    message = _check_context(context) + b"\x00" + value.encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()
