"""STP's ``firma``: the cadena original of an order or a consulta, signed with RSA; pure functions.

STP authenticates every request by a signature in the body, not by a header. The signed text
(the *cadena original*) is ``"||" + "|".join(values) + "||"`` over a fixed list of fields in a
fixed order; the signature is RSA PKCS#1 v1.5 over SHA-256 of its UTF-8 bytes, base64-encoded,
made with the empresa's private key (STP holds the matching certificate). Settled from
cuenca-mx/stpmex-python (``auth.py``, ``resources/base.py``, ``resources/ordenes.py``,
``resources/conciliacion.py``) and the cassettes in its test suite.

Formatting rules follow that library exactly, because STP rebuilds the same text on its side:
missing values become ``""`` (a zero stays ``0``, as in the library's current ``join_fields``);
``monto`` and ``iva`` are written with two decimals (``%.2f``); enums by their value.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Any

from cryptography.exceptions import InvalidSignature as _BadSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "ORDEN_FIELDNAMES",
    "cadena_conciliacion",
    "cadena_consulta_orden",
    "cadena_orden",
    "cadena_saldo",
    "load_private_key",
    "load_public_key",
    "sign_cadena",
    "verify_firma",
]

# The 34 fields of the registra cadena, in STP's order ("Firmas electrónicas", STP help centre).
ORDEN_FIELDNAMES: tuple[str, ...] = (
    "institucionContraparte",
    "empresa",
    "fechaOperacion",
    "folioOrigen",
    "claveRastreo",
    "institucionOperante",
    "monto",
    "tipoPago",
    "tipoCuentaOrdenante",
    "nombreOrdenante",
    "cuentaOrdenante",
    "rfcCurpOrdenante",
    "tipoCuentaBeneficiario",
    "nombreBeneficiario",
    "cuentaBeneficiario",
    "rfcCurpBeneficiario",
    "emailBeneficiario",
    "tipoCuentaBeneficiario2",
    "nombreBeneficiario2",
    "cuentaBeneficiario2",
    "rfcCurpBeneficiario2",
    "conceptoPago",
    "conceptoPago2",
    "claveCatUsuario1",
    "claveCatUsuario2",
    "clavePago",
    "referenciaCobranza",
    "referenciaNumerica",
    "tipoOperacion",
    "topologia",
    "usuario",
    "medioEntrega",
    "prioridad",
    "iva",
)
_AMOUNT_FIELDS = frozenset({"monto", "iva"})


def _text(name: str, value: Any) -> str:
    if isinstance(value, Enum):
        value = value.value
    if name in _AMOUNT_FIELDS and value not in (None, ""):
        if isinstance(value, float):
            raise TypeError("amounts in a cadena must be Decimal, not float")
        return f"{Decimal(value):.2f}"
    return "" if value is None else str(value)


def _join(values: list[str]) -> str:
    return "||" + "|".join(values) + "||"


def cadena_orden(orden: Mapping[str, Any]) -> str:
    """The cadena original of a registra body (every field STP signs, in its order)."""
    return _join([_text(name, orden.get(name)) for name in ORDEN_FIELDNAMES])


def cadena_consulta_orden(
    empresa: str, clave_rastreo: str, tipo_orden: str, fecha_operacion: str = ""
) -> str:
    """``efws/API/consultaOrden``: ``||empresa|claveRastreo|tipoOrden|fechaOperacion||``."""
    return _join([empresa, clave_rastreo, tipo_orden, fecha_operacion])


def cadena_conciliacion(empresa: str, tipo_orden: str, fecha_operacion: str = "") -> str:
    """``efws/API/V2/conciliacion``: ``||empresa|tipoOrden|fechaOperacion||``."""
    return _join([empresa, tipo_orden, fecha_operacion])


def cadena_saldo(empresa: str, cuenta: str, fecha: str = "") -> str:
    """``efws/API/consultaSaldoCuenta``: ``||empresa|cuenta|fecha||`` (UNCONFIRMED order)."""
    return _join([empresa, cuenta, fecha])


def load_private_key(pem: str, passphrase: str | None = None) -> rsa.RSAPrivateKey:
    """The empresa's RSA key from PEM; ``ValueError`` (never echoing the key) if unusable."""
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), passphrase.encode() if passphrase else None
        )
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("the STP private key cannot be read (PEM or passphrase wrong)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the STP key must be an RSA key")
    return key


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    """An RSA public key (or the public half of a certificate) from PEM."""
    data = pem.encode()
    try:
        if b"CERTIFICATE" in data:
            from cryptography import x509

            key: Any = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ValueError("the STP public key cannot be read") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the STP key must be an RSA key")
    return key


def sign_cadena(key: rsa.RSAPrivateKey, cadena: str) -> str:
    """Base64 RSA PKCS#1 v1.5 / SHA-256 signature of the cadena's UTF-8 bytes."""
    signature = key.sign(cadena.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify_firma(key: rsa.RSAPublicKey, cadena: str, firma: Any) -> bool:
    """True if ``firma`` is the empresa's signature of ``cadena`` (what STP checks)."""
    if not isinstance(firma, str) or not firma:
        return False
    try:
        signature = base64.b64decode(firma, validate=True)
        key.verify(signature, cadena.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, _BadSignature):
        return False
    return True
