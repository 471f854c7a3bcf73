"""The one seam through which collections tell a borrower something.

Each notice is audited (``collections.notice``) and handed to every registered sender; the
notifications package registers one when it is imported (the app and the CLI import it),
so collections never imports notifications. A sender that fails is logged: a notice never
undoes or blocks the charge or the mandate it is about.

Kinds (``context`` carries what the message needs):

* ``mandate_confirmed``: a domiciliación was signed (``card``, ``valid_until``,
  ``text_version``, ``accepted_at``).
* ``mandate_revoked``: it was revoked; no further charge will be made (``revoked_at``).
* ``charge_declined``: a scheduled charge was refused and will be retried
  (``amount``, ``reason``, ``retry_on``): keep funds on the card for that day.
* ``needs_another_method``: the card cannot be charged again (expired, stolen, refused):
  save another card or pay by hand (``amount``, ``reason``).
* ``retries_exhausted``: no more automatic tries for this installment: pay by hand
  (``amount``, ``reason``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from puente.audit.service import record_audit
from puente.runtime import Runtime

__all__ = [
    "NOTICE_KINDS",
    "SCHEDULED_CHARGE_KEY_PREFIX",
    "BorrowerNotice",
    "is_scheduled_charge_key",
    "register_notice_sender",
    "tell_borrower",
]

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

# Every scheduled charge's payment carries an idempotency key with this prefix, so a reader
# of payments (the payment notices) knows collections speaks to the borrower about it.
SCHEDULED_CHARGE_KEY_PREFIX = "domiciliacion-"


def is_scheduled_charge_key(idempotency_key: str) -> bool:
    """Whether a payment with this idempotency key is a domiciliación charge."""
    return idempotency_key.startswith(SCHEDULED_CHARGE_KEY_PREFIX)


@dataclass(frozen=True, slots=True)
class BorrowerNotice:
    kind: str
    user_id: int
    loan_id: int
    dedupe_key: str  # the same key is never told twice
    payment_id: int | None = None
    context: Mapping[str, Any] = field(default_factory=dict)


NoticeSender = Callable[[Runtime, BorrowerNotice], Awaitable[object]]
_SENDERS: dict[str, NoticeSender] = {}


def register_notice_sender(name: str, sender: NoticeSender) -> None:
    """Install a sender (idempotent per ``name``)."""
    _SENDERS[name] = sender


async def tell_borrower(
    runtime: Runtime,
    kind: str,
    *,
    user_id: int,
    loan_id: int,
    dedupe_key: str,
    payment_id: int | None = None,
    context: Mapping[str, Any] | None = None,
) -> None:
    """Tell the borrower ``kind`` about their loan (see the module docstring for kinds)."""
    if kind not in NOTICE_KINDS:
        raise ValueError(f"unknown notice kind {kind!r}")
    notice = BorrowerNotice(kind, user_id, loan_id, dedupe_key, payment_id, dict(context or {}))
    data = {"kind": kind, "loan_id": loan_id, "payment_id": payment_id}
    data |= {key: str(value) for key, value in notice.context.items()}
    await record_audit(
        "collections.notice", actor_id=None, subject_type="user", subject_id=user_id, data=data
    )
    for name, send in list(_SENDERS.items()):
        try:
            await send(runtime, notice)
        except Exception:  # noqa: BLE001 - a notice never breaks what it is about
            log.exception("notice sender %s failed for %s", name, kind)
