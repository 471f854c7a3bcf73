"""The one seam through which collections tell a borrower something.

For now each notice is an audit record (``collections.notice``) and a log line; the
notifications package connects here to send it by email/SMS with its Spanish template.

Kinds (``context`` carries what the template needs):

* ``mandate_confirmed``: a domiciliación was signed (``card``, ``valid_until``).
* ``mandate_revoked``: it was revoked; no further charge will be made.
* ``charge_declined``: a scheduled charge was refused and will be retried
  (``amount``, ``reason``, ``retry_on``): keep funds on the card for that day.
* ``needs_another_method``: the card cannot be charged again (expired, stolen, refused):
  save another card or pay by hand (``reason``).
* ``retries_exhausted``: no more automatic tries for this installment: pay by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from puente.audit.service import record_audit

__all__ = ["NOTICE_KINDS", "tell_borrower"]

log = logging.getLogger("puente.collections")

NOTICE_KINDS = frozenset(
    {
        "mandate_confirmed",
        "mandate_revoked",
        "charge_declined",
        "needs_another_method",
        "retries_exhausted",
    }
)


async def tell_borrower(
    kind: str,
    *,
    user_id: int,
    loan_id: int,
    payment_id: int | None = None,
    context: Mapping[str, Any] | None = None,
) -> None:
    """Tell the borrower ``kind`` about their loan (see the module docstring for kinds)."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    data = {"kind": kind, "loan_id": loan_id, "payment_id": payment_id, **(context or {})}
    await record_audit(
        "collections.notice", actor_id=None, subject_type="user", subject_id=user_id, data=data
    )
    log.info("notice %s for user %s (loan %s)", kind, user_id, loan_id)
