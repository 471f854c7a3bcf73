"""Who may see which loans and payments (one rule for every door)."""

from __future__ import annotations

from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from puente.accounts.models import User
from puente.enums import Role
from puente.loans.models import Loan

__all__ = ["STAFF", "can_see_loan", "is_staff", "own_loans", "visible_loans"]

STAFF = frozenset({Role.STAFF, Role.ADMIN})


def own_loans(user: User) -> QuerySet[Loan]:
    """Loans the user owes (borrower or paying guardian) or studies under (student)."""
    return Loan.filter(Q(borrower_id=user.id) | Q(student_id=user.id))


def is_staff(user: User) -> bool:
    return Role(user.role) in STAFF


def visible_loans(user: User) -> QuerySet[Loan]:
    """The loans ``user`` may see: ``can_see_loan`` as a query (GraphQL and portal lists)."""
    if is_staff(user):
        return Loan.filter(institution_id=user.institution_id)
    return own_loans(user).filter(institution_id=user.institution_id)


def can_see_loan(user: User, loan: Loan) -> bool:
    """Owners see their loan; staff and admins see every loan of their institution."""
    if loan.institution_id != user.institution_id:
        return False
    if is_staff(user):
        return True
    return user.id in (loan.borrower_id, loan.student_id)
