"""PayPal object shapes, error bodies, test data and the signing certificate (pure builders).

Card outcomes follow PayPal's sandbox card testing: any name on the card approves, except the
rejection triggers (``CCREJECT-REFUSED`` 0500, ``CCREJECT-IF`` 5120 insufficient funds,
``CCREJECT-EC`` 5400 expired, ``CCREJECT-SF`` 9500, ``CCREJECT-IRC`` 5180, ``CCREJECT-LS``
9520, ``CCREJECT-IA`` 1330, ``CCREJECT-BANK_ERROR`` 5100, ``CCREJECT-CVV_F`` 00N7), whose
capture is DECLINED with that processor ``response_code``. The certificate is self-signed,
made with ``cryptography`` once per process, and served like PayPal's at
``/v1/notifications/certs/{id}``.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal, InvalidOperation
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from puente.money import ZERO, parse_amount, round_centavos

__all__ = [
    "REJECTION_TRIGGERS",
    "SANDBOX_BUYER",
    "PayPalError",
    "amount_param",
    "money_obj",
    "paypal_fee",
    "paypal_now",
    "report_time",
    "signing_identity",
]

REJECTION_TRIGGERS: dict[str, str] = {
    "CCREJECT-REFUSED": "0500",
    "CCREJECT-SF": "9500",
    "CCREJECT-EC": "5400",
    "CCREJECT-IRC": "5180",
    "CCREJECT-IF": "5120",
    "CCREJECT-LS": "9520",
    "CCREJECT-IA": "1330",
    "CCREJECT-BANK_ERROR": "5100",
    "CCREJECT-CVV_F": "00N7",
}
SANDBOX_BUYER = {
    "email_address": "sb-buyer@personal.example.com",
    "account_id": "QYR5Z8XDVJNXQ",
    "name": {"given_name": "Comprador", "surname": "Sandbox"},
}
_MESSAGES = {
    400: (
        "INVALID_REQUEST",
        "Request is not well-formed, syntactically incorrect, or violates schema.",
    ),
    404: ("RESOURCE_NOT_FOUND", "The specified resource does not exist."),
    422: (
        "UNPROCESSABLE_ENTITY",
        "The requested action could not be performed, semantically "
        "incorrect, or failed business validation.",
    ),
    429: ("RATE_LIMIT_REACHED", "Too many requests. Blocked due to rate limiting."),
    500: ("INTERNAL_SERVER_ERROR", "An internal server error has occurred."),
    503: ("SERVICE_UNAVAILABLE", "Service Unavailable."),
}


class PayPalError(Exception):
    """An error PayPal would answer with; ``body()`` is its JSON shape."""

    def __init__(
        self,
        status: int,
        issue: str | None = None,
        description: str = "",
        *,
        debug_id: str = "7a3d1c2b9e8f0",
        field: str | None = None,
        location: str = "body",
        oauth: str | None = None,
    ) -> None:
        super().__init__(issue or str(status))
        self.status = status
        self.issue = issue
        self.description = description
        self.debug_id = debug_id
        self.field = field
        self.location = location
        self.oauth = oauth  # OAuth endpoints answer {error, error_description}

    def body(self) -> dict[str, Any]:
        """``{name, message, debug_id, details[], links[]}`` (or the OAuth shape)."""
        if self.oauth:
            return {"error": self.oauth, "error_description": self.description}
        name, message = _MESSAGES.get(self.status, ("INTERNAL_SERVER_ERROR", "Error."))
        body: dict[str, Any] = {"name": name, "message": message, "debug_id": self.debug_id}
        if self.issue:
            detail: dict[str, Any] = {"issue": self.issue, "description": self.description}
            if self.field:
                detail.update(field=self.field, location=self.location)
            body["details"] = [detail]
            body["links"] = [
                {
                    "href": f"https://developer.paypal.com/api/rest/reference/orders/v2/errors/#{self.issue}",
                    "rel": "information_link",
                    "method": "GET",
                }
            ]
        return body


def money_obj(value: Decimal) -> dict[str, str]:
    """PayPal money: ``{"currency_code": "MXN", "value": "150.00"}``."""
    return {"currency_code": "MXN", "value": str(value)}


def amount_param(obj: Any, field: str) -> Decimal:
    """A positive MXN money object from a request, validated as PayPal does."""
    try:
        if obj.get("currency_code") != "MXN":
            raise PayPalError(
                422,
                "CURRENCY_NOT_SUPPORTED",
                "Currency code is not currently supported.",
                field=field,
            )
        amount = parse_amount(str(obj["value"]))
    except (AttributeError, KeyError, ValueError, InvalidOperation):
        raise PayPalError(
            400, "INVALID_PARAMETER_VALUE", "The value of a field is invalid.", field=field
        ) from None
    if amount <= ZERO:
        raise PayPalError(
            422, "CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.", field=field
        )
    return amount


def paypal_now(ts: float) -> str:
    """``2024-05-10T19:43:14Z``: the Orders and webhooks timestamp format."""
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def report_time(ts: float) -> str:
    """``2024-05-10T19:43:14+0000``: the reporting API's format."""
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def paypal_fee(amount: Decimal) -> Decimal:
    """PayPal México's commercial rate: 3.95 % + $4.00 MXN, plus 16 % IVA on the fee."""
    fee = round_centavos(amount * Decimal("0.0395") + Decimal("4.00"))
    return fee + round_centavos(fee * Decimal("0.16"))


@functools.lru_cache(maxsize=1)
def signing_identity() -> tuple[rsa.RSAPrivateKey, bytes]:
    """(private key, PEM certificate) of the simulated PayPal webhook signer."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "PayPal, Inc. (Puente sandbox)"),
            x509.NameAttribute(NameOID.COMMON_NAME, "messageverificationcerts.sandbox.paypal.com"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)
