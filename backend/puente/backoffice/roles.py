"""Who may do what in the console. The route gate (``PortalGate.signed_in(roles=...)``) and
each action in ``actions.py`` read this one table, so a door and its service never disagree.

Cashiers (staff) run the day: they see everything of their institution, take cash at the
branch, refund a payment, replay a webhook event, resolve a reconciliation exception and
close a suspense item saying what was done.
Decisions that change what a borrower owes or that send money out (approve and disburse,
restructure, write off) are the administrator's: they need a second person's authority in a
lender, and the console gives them to the role that carries it.
"""

from __future__ import annotations

from enum import StrEnum

from puente.accounts.models import User
from puente.enums import Role

__all__ = ["CONSOLE_ROLES", "ConsoleAction", "ConsoleRefused", "may", "require", "roles_for"]

CONSOLE_ROLES = frozenset({Role.STAFF, Role.ADMIN})
ADMIN_ONLY = frozenset({Role.ADMIN})


class ConsoleAction(StrEnum):
    REFUND = "refund"
    CASH_PAYMENT = "cash_payment"
    REPLAY_WEBHOOK = "replay_webhook"
    RESOLVE_EXCEPTION = "resolve_exception"
    RESOLVE_SUSPENSE = "resolve_suspense"
    APPROVE_DISBURSE = "approve_disburse"
    RESTRUCTURE = "restructure"
    WRITE_OFF = "write_off"


_ROLES: dict[ConsoleAction, frozenset[Role]] = {
    ConsoleAction.REFUND: CONSOLE_ROLES,
    ConsoleAction.CASH_PAYMENT: CONSOLE_ROLES,
    ConsoleAction.REPLAY_WEBHOOK: CONSOLE_ROLES,
    ConsoleAction.RESOLVE_EXCEPTION: CONSOLE_ROLES,
    ConsoleAction.RESOLVE_SUSPENSE: CONSOLE_ROLES,
    ConsoleAction.APPROVE_DISBURSE: ADMIN_ONLY,
    ConsoleAction.RESTRUCTURE: ADMIN_ONLY,
    ConsoleAction.WRITE_OFF: ADMIN_ONLY,
}


class ConsoleRefused(Exception):
    """An action was refused; ``message`` is Spanish, for the person at the console."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def roles_for(action: ConsoleAction) -> frozenset[Role]:
    return _ROLES[action]


def may(user: User, action: ConsoleAction) -> bool:
    return Role(user.role) in _ROLES[action]


def require(user: User, action: ConsoleAction) -> None:
    """Raise ``ConsoleRefused`` unless ``user``'s role may do ``action``."""
    if not may(user, action):
        raise ConsoleRefused("FORBIDDEN", "Tu rol no permite esta acción.")
