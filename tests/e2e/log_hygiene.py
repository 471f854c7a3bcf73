"""What must never appear in a log line, checked against a whole `puente demo` run."""

from __future__ import annotations

import re

from puente.demo import DEMO_LOGINS
from puente.sandbox_hook import demo_credentials

__all__ = ["leaks_in"]

# Credential fields that grant access or identify an account (the rest are public names).
SECRET_FIELDS = {
    "secret_key",
    "webhook_secret",
    "private_key",
    "webhook_key",
    "webhook_password",
    "access_token",
    "client_secret",
    "private_key_passphrase",
    "cuenta",  # the lender's own CLABE at STP
}
CARD_TOKENS = ("tok_visa", "tok_test_visa_4242", "tok_chargeDeclined", "tok_test_card_declined")
PATTERNS = {
    "JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\."),
    "CLABE": re.compile(r"(?<![0-9])[0-9]{18}(?![0-9])"),
    "PAN": re.compile(r"(?<![0-9])4242424242424242|4000000000000002(?![0-9])"),
    "PEM": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}


def _banner_end(lines: list[str]) -> int:
    """`puente demo` prints the demo logins on purpose (the contract says so): skip them."""
    for index, line in enumerate(lines):
        if line.startswith("demo logins:"):
            for end in range(index + 1, len(lines)):
                if not lines[end].strip():
                    return end + 1
    return 0


def leaks_in(log_text: str) -> list[str]:
    """Every secret found in the log after the banner, named (never the value itself)."""
    lines = log_text.splitlines()
    body = "\n".join(lines[_banner_end(lines) :])
    found = []
    for provider, fields in demo_credentials().items():
        for field, value in fields.items():
            if field in SECRET_FIELDS and len(value) >= 8 and value in body:
                found.append(f"{provider}.{field}")
    for email, password, _ in DEMO_LOGINS:
        if password in body:
            found.append(f"password of {email}")
    found += [f"card token {token}" for token in CARD_TOKENS if token in body]
    found += [name for name, pattern in PATTERNS.items() if pattern.search(body)]
    return found
