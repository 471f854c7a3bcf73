"""What is kept of a webhook delivery: the body encrypted, the headers without credentials.

Provider bodies carry what we protect everywhere else (a payer's CLABE and name in SPEI
events, STP's ``cuentaOrdenante``), so a stored body is sealed with the field cipher like
every other CLABE (``security/crypto.py``), bound to its column. Headers are kept for
support and audit, but never the credentials a delivery carries (Openpay's Basic password,
a shared secret, a cookie) nor its signature: processing never re-verifies a stored event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from puente.runtime import Runtime
from puente.security.crypto import TOKEN_VERSION
from puente.webhooks.models import ProviderEvent

__all__ = ["RAW_BODY_CONTEXT", "seal_body", "stored_body", "stored_headers"]

RAW_BODY_CONTEXT = "provider_events.raw_body"
KEPT_HEADERS = 30  # bounded: a delivery with hundreds of headers keeps the first few
# Any header whose name says it carries a credential or a signature.
_SECRET_HEADER = re.compile(
    r"authorization|cookie|secret|token|password|passwd|api[-_]?key|signature|transmission-sig"
    r"|^digest$|^x-signature$|session|credential",
    re.IGNORECASE,
)


def stored_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The delivery's headers worth keeping: bounded, and never a credential."""
    kept = {name: value for name, value in headers.items() if not _SECRET_HEADER.search(name)}
    return dict(list(kept.items())[:KEPT_HEADERS])


def seal_body(runtime: Runtime, raw_body: bytes) -> str:
    """The body as stored: encrypted under the current key, bound to its column."""
    text = raw_body.decode("utf-8", errors="replace")
    return runtime.cipher.encrypt(text, context=RAW_BODY_CONTEXT)


def stored_body(runtime: Runtime, event: ProviderEvent) -> str:
    """The body of a stored event as the provider sent it (rows from before encryption too)."""
    if event.raw_body.startswith(f"{TOKEN_VERSION}."):
        return runtime.cipher.decrypt(event.raw_body, context=RAW_BODY_CONTEXT)
    return event.raw_body  # stored in clear by an older version (a JSON body never starts so)
