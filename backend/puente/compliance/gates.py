"""Compliance gates on the money paths (service): what a payout asks before it leaves.

``screen_before_disbursement`` screens the borrower against the lists as they are now (a hit on
the blocked list suspends at once) and says whether they may operate;
``check_payout_account`` raises an alert when the CLABE is not the one the borrower declared.
"""

from __future__ import annotations

import logging

from puente.accounts.models import User
from puente.compliance.cases import SuspensionRefusal, suspension_refusal
from puente.compliance.monitoring_service import monitor_disbursement
from puente.compliance.onboarding_service import declared_clabe_matches
from puente.compliance.screening_service import screen_customer
from puente.loans.models import Loan
from puente.runtime import Runtime

__all__ = ["check_payout_account", "screen_before_disbursement"]

logger = logging.getLogger("puente.compliance")


async def screen_before_disbursement(runtime: Runtime, loan: Loan) -> SuspensionRefusal | None:
    """Screen the borrower now; the refusal if they may not receive money."""
    customer = await User.get(id=loan.borrower_id)
    await screen_customer(runtime, customer, reason="dispersion")
    return await suspension_refusal(customer.id)


async def check_payout_account(
    runtime: Runtime, loan: Loan, *, disbursement_id: int, clabe: str, name: str
) -> None:
    """Alert on a payout to a CLABE other than the declared one; never stops the payout
    (the officer reviews it; staff may have a good reason, such as a corrected account)."""
    try:
        matches = await declared_clabe_matches(runtime, loan.id, clabe)
        if matches is not None:
            await monitor_disbursement(
                runtime, loan, disbursement_id=disbursement_id, clabe_matches=matches, name=name
            )
    except Exception:  # noqa: BLE001 - an alert that fails must not undo a payout
        logger.exception("AML payout check failed for loan %s", loan.id)
