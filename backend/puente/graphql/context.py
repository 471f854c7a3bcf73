"""Per-request GraphQL context: who is asking, and loaders that avoid N+1 queries."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from puente.accounts.access import Session, authorized_user, enrolling_user
from puente.accounts.models import User
from puente.accounts.service import AuthService
from puente.graphql.errors import UserFacingError
from puente.graphql.loaders import Loaders
from puente.loans.models import Loan
from puente.loans.state import LoanView, load_loan_views
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime
from puente.tuition.pricing import PLAN_KEY

__all__ = ["LOG_IN_FIRST", "GraphQLContext"]

LOG_IN_FIRST = "Inicia sesión primero (Authorization: Bearer <token>)."


@dataclass
class GraphQLContext:
    runtime: Runtime
    auth: AuthService
    gateways: GatewayDirectory
    request: Any
    response: Any
    token: str | None
    connection_params: dict[str, Any] | None = None
    # A WebSocket lives for many operations: its session is checked again for each one.
    long_lived: bool = False
    _session: Session | None = None
    _checked: bool = False
    # Loans by id, read once per request: rows a page already read (``remember_loans``)
    # are never read again, and the views below them start from those rows.
    loan_rows: DataLoader[int, Loan] = field(init=False)
    loan_views: DataLoader[int, LoanView] = field(init=False)
    # Errors on one field that answered a harmless value (``errors.report_field_error``).
    field_errors: list[Any] = field(init=False, default_factory=list)
    loaders: Loaders = field(init=False, default_factory=Loaders)
    # Root fields resolve concurrently: the first one checks the token while the others
    # wait on this lock, so none of them sees "checked" before the check has finished.
    _session_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.loan_rows = DataLoader(load_fn=self._load_loan_rows)
        self.loan_views = DataLoader(load_fn=self._load_loan_views)

    def remember_loans(self, rows: Iterable[Loan]) -> None:
        """Loans already read (a page, a payment's joined loan), with whatever relations
        came joined: fields below them (kind, displayName, the balance) read them again
        from here, not from the database."""
        for loan in rows:
            self.loan_rows.prime(loan.id, loan)
            product = getattr(loan, "_product", None)  # select_related("product")
            if product is not None:
                self.loaders.products.prime(product.id, product)
            institution = getattr(loan, "_institution", None)
            if institution is not None:
                self.loaders.institutions.prime(institution.id, institution)

    async def _load_loan_rows(self, ids: list[int]) -> list[Loan | None]:
        rows = {loan.id: loan for loan in await Loan.filter(id__in=ids).select_related("product")}
        self.remember_loans(rows.values())
        return [rows.get(i) for i in ids]

    async def _load_loan_views(self, ids: list[int]) -> list[LoanView]:
        rows = [loan for loan in await self.loan_rows.load_many(ids) if loan is not None]
        students = {
            loan.student_id or loan.borrower_id
            for loan in rows
            if PLAN_KEY in (loan.settings or {})
        }
        if students:  # a colegiatura names its student (displayName, tuition)
            users = await User.filter(id__in=students)
            self.loaders.users.prime_many({user.id: user for user in users})
        views = {view.loan.id: view for view in await load_loan_views(rows, self.runtime.today())}
        return [views[i] for i in ids]

    def use_token(self, token: str | None) -> None:
        """Take the token a WebSocket sent in ``connection_init``."""
        self.token = token
        self._checked = False

    async def session(self) -> Session | None:
        """The caller's live session (any scope), or None; checked once per request."""
        async with self._session_lock:
            if not self._checked or self.long_lived:
                self._session = await self.auth.authenticate(self.token)
                self._checked = True
        return self._session

    def shared_result_key(self) -> tuple[int, str] | None:
        """Who this context answers for, as far as resolvers can tell: subscribers with the
        same key may share one execution of an event (``shared_results``); None shares none.
        """
        session = self._session
        if session is None:
            return None
        return (session.user.id, session.scope)

    async def user(self) -> User | None:
        """The user every door but MFA enrolment acts for (``authorized_user``), or None."""
        return authorized_user(await self.session())

    async def enrolling_user(self) -> User | None:
        """The user of a session that may enrol MFA now, or None."""
        return enrolling_user(await self.session())

    async def acting_user(self) -> User:
        """The user a field guarded by ``IsAuthenticated`` acts for.

        The permission has already checked; on a WebSocket the session is checked again per
        call, so a session revoked in between is refused here rather than trusted.
        """
        user = await self.user()
        if user is None:
            raise UserFacingError("UNAUTHENTICATED", LOG_IN_FIRST)
        return user

    async def acting_session(self) -> Session:
        """The session of a field guarded by ``HasSession`` or ``IsAuthenticated``."""
        session = await self.session()
        if session is None:
            raise UserFacingError("UNAUTHENTICATED", LOG_IN_FIRST)
        return session
