"""How each provider signs what it sends, written from its documentation, not from the connectors.

The connectors in ``puente.providers`` verify these signatures with their own code; the
simulators must not borrow it, or a mistake made once would be made on both sides and every
test would still pass. Sources (``/work/shared/reference/providers.md`` summarises them):

- Stripe: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>``.
- A bank (Puente's open-banking partner) signs the same way in ``X-Signature``.
- Conekta: ``Digest`` = base64 RSA PKCS#1 v1.5 / SHA-256 over the raw body.
- Openpay: no signature; the ``user``/``password`` registered with the webhook as HTTP Basic.
- Mercado Pago: ``x-signature: ts=<ts>,v1=<hex HMAC-SHA256(secret, manifest)>`` where the
  manifest is ``id:<data.id>;request-id:<x-request-id>;ts:<ts>;`` (missing parts left out).
- PayPal: ``PAYPAL-TRANSMISSION-SIG`` = base64 SHA256withRSA over
  ``<transmission id>|<transmission time>|<webhook id>|<CRC32 of the raw body, unsigned>``.
- STP: no signature on callbacks (HTTP Basic shared secret here); clients sign their
  requests with a ``firma``: base64 RSA PKCS#1 v1.5 / SHA-256 of the *cadena original*.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "PAYPAL_AUTH_ALGO",
    "basic_authorization",
    "hmac_sha256_hex",
    "mercadopago_signature",
    "paypal_transmission_message",
    "private_key_from_pem",
    "public_key_from_pem",
    "rsa_sha256_b64",
    "rsa_sha256_b64_valid",
    "timestamped_hmac_header",
]

PAYPAL_AUTH_ALGO = "SHA256withRSA"


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """Hex HMAC-SHA256 of ``message`` keyed with the UTF-8 ``secret``."""
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def timestamped_hmac_header(body: bytes, secret: str, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex>`` over ``"<timestamp>.<body>"`` (Stripe's scheme)."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return f"t={timestamp},v1={hmac_sha256_hex(secret, signed)}"


def mercadopago_signature(data_id: str | None, request_id: str, ts: int, secret: str) -> str:
    """The ``x-signature`` value for a notification about ``data_id``."""
    parts = []
    if data_id:
        # Mercado Pago lowercases an alphanumeric id before signing it.
        parts.append(f"id:{data_id.lower() if data_id.isalnum() else data_id};")
    if request_id:
        parts.append(f"request-id:{request_id};")
    parts.append(f"ts:{ts};")
    return f"ts={ts},v1={hmac_sha256_hex(secret, ''.join(parts).encode('utf-8'))}"


def paypal_transmission_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    """What PayPal signs for one delivery (CRC32 of the body as an unsigned decimal)."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def basic_authorization(user: str, password: str) -> str:
    """An HTTP Basic ``Authorization`` value (RFC 7617)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def rsa_sha256_b64(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """Base64 RSA PKCS#1 v1.5 signature over SHA-256 of ``message``."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_sha256_b64_valid(key: rsa.RSAPublicKey, message: bytes, signature: object) -> bool:
    """True if ``signature`` (base64) is ``key``'s PKCS#1 v1.5 / SHA-256 signature of it."""
    if not isinstance(signature, str) or not signature:
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        key.verify(raw, message, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, InvalidSignature):
        return False
    return True


def private_key_from_pem(pem: str, passphrase: str | None = None) -> rsa.RSAPrivateKey:
    """An RSA private key from PEM; ``ValueError`` when it is not one."""
    key = serialization.load_pem_private_key(
        pem.encode(), passphrase.encode() if passphrase else None
    )
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("expected an RSA private key")
    return key


def public_key_from_pem(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key from a PEM public key or certificate."""
    data = pem.encode()
    if b"CERTIFICATE" in data:
        from cryptography import x509

        key: object = x509.load_pem_x509_certificate(data).public_key()
    else:
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("expected an RSA public key")
    return key
