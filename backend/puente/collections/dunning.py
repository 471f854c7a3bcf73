"""What to do after a domiciliación charge is refused (pure: values in, values out).

The retry schedule reads the decline:

* insufficient funds: try again on the next quincena payday (the 15th and the last day of
  the month, when most Mexican payrolls pay), up to ``payday_retries`` times;
* expired, stolen or lost card, do-not-honour and every other issuer refusal: stop, and
  ask the borrower for another card (trying the same card again only piles up declines);
* provider outage or processing error: try again soon (``soon_days``), up to
  ``soon_retries`` times.

Per-product settings live in ``LoanProduct.settings["domiciliacion"]`` (``DunningPolicy``).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

__all__ = [
    "Action",
    "DunningPolicy",
    "Retry",
    "classify_decline",
    "next_payday",
    "plan_retry",
]


class Action(StrEnum):
    RETRY_PAYDAY = "retry_payday"
    RETRY_SOON = "retry_soon"
    NEEDS_METHOD = "needs_method"
    EXHAUSTED = "exhausted"  # retries used up: the borrower pays by hand


# Providers' own codes that say "try again later" though the provider reports a decline
# (Stripe ``processing_error``, Openpay 3005 antifraud timeouts are NOT here: fraud stops).
_RETRY_SOON_PROVIDER_CODES = frozenset(
    {"processing_error", "try_again_later", "issuer_not_available", "reenter_transaction"}
)
# Normalised codes (providers.errors.ErrorCode) that are outages, not declines.
_OUTAGE_CODES = frozenset({"provider_unavailable", "rate_limited"})


def classify_decline(code: str | None, provider_code: str | None = None) -> Action:
    """The retry rule for a refused charge: its normalised code and the provider's own."""
    if (provider_code or "").lower() in _RETRY_SOON_PROVIDER_CODES or code in _OUTAGE_CODES:
        return Action.RETRY_SOON
    if code == "insufficient_funds":
        return Action.RETRY_PAYDAY
    # expired_card, card_declined (stolen, lost, do-not-honour, generic), invalid_request:
    # the same card will not pay; another method is needed.
    return Action.NEEDS_METHOD


def next_payday(after: date) -> date:
    """The first quincena payday strictly after ``after``: the 15th or the month's last day."""
    last = calendar.monthrange(after.year, after.month)[1]
    if after.day < 15:
        return after.replace(day=15)
    if after.day < last:
        return after.replace(day=last)
    following = after + timedelta(days=1)
    return following.replace(day=15)


@dataclass(frozen=True, slots=True)
class DunningPolicy:
    """A product's domiciliación settings (``LoanProduct.settings["domiciliacion"]``)."""

    payday_retries: int = 3
    soon_retries: int = 3
    soon_days: int = 1

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> DunningPolicy:
        """The policy a product's settings name; missing or bad values take the defaults."""
        raw = (settings or {}).get("domiciliacion") or {}
        values: dict[str, int] = {}
        for name in ("payday_retries", "soon_retries", "soon_days"):
            value = raw.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                values[name] = value
        policy = cls(**values)
        return policy if policy.soon_days >= 1 else cls(**{**values, "soon_days": 1})


@dataclass(frozen=True, slots=True)
class Retry:
    """The decision after a decline: ``on`` is the next attempt's day, None for no retry."""

    action: Action
    on: date | None


def plan_retry(
    policy: DunningPolicy,
    action: Action,
    *,
    today: date,
    previous: Mapping[Action, int],
) -> Retry:
    """When to try again after a decline classified ``action`` on ``today``.

    ``previous`` counts the retries of each kind already scheduled for this installment.
    """
    if action is Action.RETRY_PAYDAY:
        if previous.get(action, 0) >= policy.payday_retries:
            return Retry(Action.EXHAUSTED, None)
        return Retry(action, next_payday(today))
    if action is Action.RETRY_SOON:
        if previous.get(action, 0) >= policy.soon_retries:
            return Retry(Action.EXHAUSTED, None)
        return Retry(action, today + timedelta(days=policy.soon_days))
    return Retry(action, None)
