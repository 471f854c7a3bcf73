"""Where compliance plugs into the payment path: it registers here, payments never import it.

Compliance (KYC screening, AML monitoring) sits above payments: it reads payments to monitor
them. The payment path asks it three things, through the hooks it registered when the
``puente.compliance`` package was imported (the app and the CLI import it at start):

* may this customer operate (a blocked-list hit suspends payments and payouts);
* screen the borrower before money goes out;
* look at a payout's account, and at every payment transition, for alerts (never blocking).

Without compliance registered (a process that never imported it) nobody is refused and
nothing is monitored; ``tests/compliance`` checks that the app registers it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from puente.loans.models import Loan
    from puente.payments.lifecycle_service import Transition
    from puente.runtime import Runtime

__all__ = ["ComplianceHooks", "Refusal", "compliance", "register_compliance"]


class Refusal(Protocol):
    """Why a customer may not operate: a code and a Spanish message safe to show."""

    code: str
    message: str


async def _nobody_refused(customer_id: int) -> Refusal | None:
    return None


async def _no_screening(runtime: Runtime, loan: Loan) -> Refusal | None:
    return None


async def _no_account_check(
    runtime: Runtime, loan: Loan, *, disbursement_id: int, clabe: str, name: str
) -> None:
    return None


@dataclass(slots=True)
class ComplianceHooks:
    """What the payment path asks compliance (defaults: nobody refused, nothing watched)."""

    customer_refusal: Callable[[int], Awaitable[Refusal | None]] = _nobody_refused
    screen_before_payout: Callable[[Runtime, Loan], Awaitable[Refusal | None]] = _no_screening
    check_payout_account: Callable[..., Awaitable[None]] = _no_account_check
    transition_observers: list[Callable[[Runtime, Transition], None]] = field(default_factory=list)

    def after_transition(self, runtime: Runtime, transition: Transition) -> None:
        """Tell every observer about a committed transition (they must not block)."""
        for observe in self.transition_observers:
            observe(runtime, transition)


_HOOKS = ComplianceHooks()


def compliance() -> ComplianceHooks:
    """The hooks in force."""
    return _HOOKS


def register_compliance(
    *,
    customer_refusal: Callable[[int], Awaitable[Refusal | None]],
    screen_before_payout: Callable[[Runtime, Loan], Awaitable[Refusal | None]],
    check_payout_account: Callable[..., Awaitable[None]],
    transition_observer: Callable[[Runtime, Transition], None],
) -> None:
    """Install compliance's answers (idempotent: registering twice changes nothing)."""
    _HOOKS.customer_refusal = customer_refusal
    _HOOKS.screen_before_payout = screen_before_payout
    _HOOKS.check_payout_account = check_payout_account
    if transition_observer not in _HOOKS.transition_observers:
        _HOOKS.transition_observers.append(transition_observer)
