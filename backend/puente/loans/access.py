"""Who may see which loans and payments (one rule for every door)."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from puente.accounts.models import User
from puente.enums import Role
from puente.loans.models import Loan
from puente.payments.models import Payment

__all__ = ["can_see_loan", "own_loans", "own_payments"]

STAFF = frozenset({Role.STAFF, Role.ADMIN})


def own_loans(user: User) -> QuerySet[Loan]:
    """Loans the user owes (borrower or paying guardian) or studies under (student)."""
    return Loan.filter(Q(borrower_id=user.id) | Q(student_id=user.id))


def own_payments(user: User) -> QuerySet[Payment]:
    return Payment.filter(user_id=user.id)


def can_see_loan(user: User, loan: Loan) -> bool:
    """Owners see their loan; staff and admins see every loan of their institution."""
    if loan.institution_id != user.institution_id:
        return False
    if Role(user.role) in STAFF:
        return True
    return user.id in (loan.borrower_id, loan.student_id)
