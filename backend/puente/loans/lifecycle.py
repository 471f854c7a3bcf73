"""A loan's life: which status may follow which, and the transitions that move money.

    application → approved → disbursed → active → paid_off
                          ↘ (settled at once) ↗   ↘ defaulted → written_off
                                                  ↘ restructured

Every transition is written with its audit entry in the same transaction, and refused with
``LoanLifecycleError`` (which says what is allowed) when the current status does not allow it.
"""

from __future__ import annotations

from datetime import date

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from puente.audit.service import record_audit
from puente.enums import JournalKind, LoanStatus
from puente.enums import LedgerAccountType as T
from puente.ledger.entries import AccountRef, Line
from puente.ledger.posting import loan_account_balances, post_entry
from puente.loans.activity import fold_activity
from puente.loans.contract import LoanContract, load_contract, loan_terms, replace_future_rows
from puente.loans.engine import (
    Component,
    current_installment,
    installments_after,
)
from puente.loans.engine.schedule import contractual_periods, level_rows
from puente.loans.models import Loan
from puente.loans.postings import COMPONENT_ACCOUNT, VAT_COMPONENTS
from puente.loans.terms import OPEN_STATUSES
from puente.money import ZERO, to_centavos

__all__ = [
    "ALLOWED",
    "OPEN_STATUSES",
    "LoanLifecycleError",
    "approve_loan",
    "cure_default",
    "mark_defaulted",
    "payout_returned",
    "require_transition",
    "restructure_loan",
    "start_disbursement",
    "transition",
    "write_off_loan",
]

ALLOWED: dict[LoanStatus, frozenset[LoanStatus]] = {
    LoanStatus.APPLICATION: frozenset({LoanStatus.APPROVED}),
    LoanStatus.APPROVED: frozenset({LoanStatus.DISBURSED, LoanStatus.ACTIVE}),
    # A payout the receiving bank sent back leaves the loan approved, to be paid out again.
    LoanStatus.DISBURSED: frozenset({LoanStatus.ACTIVE, LoanStatus.APPROVED}),
    LoanStatus.ACTIVE: frozenset(
        {LoanStatus.PAID_OFF, LoanStatus.DEFAULTED, LoanStatus.RESTRUCTURED}
    ),
    LoanStatus.DEFAULTED: frozenset(
        {LoanStatus.ACTIVE, LoanStatus.WRITTEN_OFF, LoanStatus.PAID_OFF, LoanStatus.RESTRUCTURED}
    ),
    # A restructured loan runs on its new schedule: it can be paid off or default again.
    LoanStatus.RESTRUCTURED: frozenset({LoanStatus.PAID_OFF, LoanStatus.DEFAULTED}),
}
# Loans that bill, accrue moratorium and take payments against installments.


class LoanLifecycleError(Exception):
    """A transition the loan's current status does not allow (the message says which are)."""


def require_transition(loan: Loan, to: LoanStatus) -> None:
    """Raise ``LoanLifecycleError`` unless ``loan`` may move to ``to`` now."""
    current = LoanStatus(loan.status)
    allowed = ALLOWED.get(current, frozenset())
    if to not in allowed:
        choices = ", ".join(sorted(s.value for s in allowed)) or "nothing (final status)"
        raise LoanLifecycleError(
            f"a loan in status {current.value} cannot become {to.value}; it may become: {choices}"
        )


async def transition(
    loan: Loan, to: LoanStatus, actor_id: int | None, conn: BaseDBAsyncClient, **data: object
) -> None:
    """Move ``loan`` to ``to`` and audit it, inside the caller's transaction."""
    current = LoanStatus(loan.status)
    require_transition(loan, to)
    loan.status = to
    await loan.save(using_db=conn, update_fields=["status", "updated_at"])
    await record_audit(
        "loan.status_changed",
        actor_id=actor_id,
        institution_id=loan.institution_id,
        subject_type="loan",
        subject_id=loan.id,
        data={"from": current.value, "to": to.value, **data},
        conn=conn,
    )


async def _simple(loan: Loan, to: LoanStatus, actor_id: int | None, **data: object) -> None:
    async with in_transaction() as tx:
        locked = await Loan.select_for_update().using_db(tx).get(id=loan.id)
        await transition(locked, to, actor_id, tx, **data)
    loan.status = to


async def approve_loan(loan: Loan, *, actor_id: int | None = None) -> None:
    """Credit committee said yes: application → approved."""
    await _simple(loan, LoanStatus.APPROVED, actor_id)


async def start_disbursement(
    loan: Loan, *, actor_id: int | None = None, reference: str = ""
) -> None:
    """The payout was sent but has not settled yet: approved → disbursed."""
    await _simple(loan, LoanStatus.DISBURSED, actor_id, reference=reference)


async def payout_returned(loan: Loan, *, actor_id: int | None = None, reference: str = "") -> None:
    """The payout came back (devuelta): disbursed → approved, so it can be sent again."""
    await _simple(loan, LoanStatus.APPROVED, actor_id, reference=reference)


async def mark_defaulted(
    loan: Loan, *, on: date, actor_id: int | None = None, reason: str = ""
) -> None:
    """Declare the loan in default (cartera vencida); moratorium keeps accruing."""
    await _simple(loan, LoanStatus.DEFAULTED, actor_id, on=on.isoformat(), reason=reason)


async def cure_default(loan: Loan, *, on: date, actor_id: int | None = None) -> None:
    """The borrower caught up: defaulted → active."""
    await _simple(loan, LoanStatus.ACTIVE, actor_id, on=on.isoformat())


async def write_off_loan(
    loan: Loan, *, on: date, actor_id: int | None = None, reason: str = ""
) -> int | None:
    """Castigo: remove what the borrower still owes from the books (defaulted → written_off).

    Every receivable is credited, per installment and component, so the ledger and the read
    model agree that nothing is receivable any more:
    - principal, interest, moratorium and fees: Dr write_off_expense (the loss);
    - their IVA: Dr vat_uncollected. That IVA was never collected, so it was never caused
      (LIVA art. 1-B) and is not owed to SAT: the liability goes away with the receivable
      instead of being booked as a loss.
    Interest not yet billed was never income and is simply never billed. Returns the entry id
    (None when nothing was receivable).
    """
    async with in_transaction() as tx:
        locked = await Loan.select_for_update().using_db(tx).get(id=loan.id)
        require_transition(locked, LoanStatus.WRITTEN_OFF)
        balances = (await loan_account_balances([loan.id], tx))[loan.id]
        if balances.get(T.LOAN_ADVANCE, 0):
            raise LoanLifecycleError(
                "the loan holds an advance payment: apply or refund it before writing it off"
            )
        lines = _write_off_lines(locked, await load_contract(locked, tx), balances)
        entry_id = None
        if lines:
            entry = await post_entry(
                lines,
                kind=JournalKind.WRITE_OFF,
                effective_date=on,
                memo=f"castigo {reason}".strip(),
                loan_id=loan.id,
                idempotency_key=f"write-off:{loan.id}",
                conn=tx,
            )
            entry_id = entry.id
        await transition(
            locked, LoanStatus.WRITTEN_OFF, actor_id, tx, on=on.isoformat(), reason=reason
        )
    loan.status = LoanStatus.WRITTEN_OFF
    return entry_id


def _write_off_lines(loan: Loan, contract: LoanContract, balances: dict[T, int]) -> list[Line]:
    inst = loan.institution_id
    lines: list[Line] = []
    credited: dict[T, int] = {}
    folded = fold_activity(contract.totals)
    for state in contract.states:
        activity = folded.get(state.number)
        for component in Component:
            if component is Component.PRINCIPAL:
                # Principal is receivable from disbursement: the contract minus what was paid.
                centavos = to_centavos(state.outstanding(component))
            elif activity is None:
                continue
            else:
                # Other components are receivable once billed or charged, less what was paid.
                name = component.value
                centavos = (
                    activity.billed.get(name, 0)
                    + activity.charged.get(name, 0)
                    - activity.paid.get(name, 0)
                    - activity.written_off.get(name, 0)
                )
            if centavos <= 0:
                continue
            account = COMPONENT_ACCOUNT[component]
            credited[account] = credited.get(account, 0) + centavos
            lines.append(
                Line(
                    AccountRef(inst, account, loan_id=loan.id),
                    -centavos,
                    state.number,
                    component.value,
                )
            )
            lines.append(_loss_line(inst, component, centavos))
    # Whatever the per-installment view did not explain (there should be nothing) still
    # leaves the books, untagged, so the receivables end at exactly zero.
    for component, account in COMPONENT_ACCOUNT.items():
        rest = balances.get(account, 0) - credited.get(account, 0)
        if rest:
            lines.append(Line(AccountRef(inst, account, loan_id=loan.id), -rest))
            lines.append(_loss_line(inst, component, rest))
    return lines


def _loss_line(institution_id: int, component: Component, centavos: int) -> Line:
    if component in VAT_COMPONENTS:
        return Line(AccountRef(institution_id, T.VAT_UNCOLLECTED), centavos)
    return Line(AccountRef(institution_id, T.WRITE_OFF_EXPENSE), centavos)


async def restructure_loan(
    loan: Loan, *, on: date, term_count: int, actor_id: int | None = None, reason: str = ""
) -> int:
    """Reestructura por ampliación de plazo: the principal of the installments after the current
    one is re-amortized over ``term_count`` new periods (same rate and method), as a new
    contract version. Overdue installments stay owed as they are: interest is not capitalised
    without the borrower's agreement (mexico.md §2.1). Returns the new contract version."""
    if term_count < 1:
        raise LoanLifecycleError("a restructuring needs at least one new installment")
    async with in_transaction() as tx:
        locked = await Loan.select_for_update().using_db(tx).get(id=loan.id)
        require_transition(locked, LoanStatus.RESTRUCTURED)
        contract = await load_contract(locked, tx)
        current = current_installment(contract.states, on)
        future = installments_after(contract.states, current)
        if current is None or not future:
            raise LoanLifecycleError("no installments are still to come: nothing to restructure")
        if any(state.paid_total > 0 for state in future):
            raise LoanLifecycleError("installments still to come hold payments: apply them first")
        balance = sum((state.due[Component.PRINCIPAL] for state in future), ZERO)
        terms = loan_terms(locked, term_count=current.number + term_count)
        periods = [p for p in contractual_periods(terms) if p.number > current.number]
        rows = level_rows(terms, balance, periods)
        version = await replace_future_rows(
            locked, [state.number for state in future], rows, on=on, conn=tx
        )
        await transition(
            locked,
            LoanStatus.RESTRUCTURED,
            actor_id,
            tx,
            on=on.isoformat(),
            reason=reason,
            version=version,
            principal=str(balance),
            installments=term_count,
        )
    loan.status = LoanStatus.RESTRUCTURED
    return version
