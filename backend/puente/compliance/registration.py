"""Compliance's answers to the payment path, installed into ``payments.compliance_hooks``."""

from __future__ import annotations

from puente.compliance.cases import suspension_refusal
from puente.compliance.gates import check_payout_account, screen_before_disbursement
from puente.compliance.monitoring_service import after_payment_transition
from puente.payments.compliance_hooks import register_compliance

__all__ = ["register"]


def register() -> None:
    """Suspension, screening before payouts, payout-account alerts, payment monitoring."""
    register_compliance(
        customer_refusal=suspension_refusal,
        screen_before_payout=screen_before_disbursement,
        check_payout_account=check_payout_account,
        transition_observer=after_payment_transition,
    )
