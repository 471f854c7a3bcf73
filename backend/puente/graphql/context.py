"""Per-request GraphQL context: who is asking, and loaders that avoid N+1 queries."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from strawberry.dataloader import DataLoader

from puente.accounts.models import User
from puente.accounts.service import AuthService
from puente.loans.models import Loan
from puente.loans.state import LoanView, load_loan_views
from puente.payments.gateways import GatewayDirectory
from puente.runtime import Runtime

__all__ = ["GraphQLContext", "bearer_token"]


def bearer_token(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


@dataclass
class GraphQLContext:
    runtime: Runtime
    auth: AuthService
    gateways: GatewayDirectory
    request: Any
    response: Any
    token: str | None
    connection_params: dict[str, Any] | None = None
    _user: User | None = None
    _user_loaded: bool = False
    loan_views: DataLoader[int, LoanView] = field(init=False)
    # Root fields resolve concurrently: the first one looks the user up while the others
    # wait on this lock, so none of them sees "loaded" before the lookup has finished.
    _user_lock: asyncio.Lock = field(init=False, default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.loan_views = DataLoader(load_fn=self._load_loan_views)

    async def _load_loan_views(self, ids: list[int]) -> list[LoanView]:
        loans = {loan.id: loan for loan in await Loan.filter(id__in=ids)}
        views = {
            view.loan.id: view
            for view in await load_loan_views(list(loans.values()), self.runtime.today())
        }
        return [views[i] for i in ids]

    async def user(self) -> User | None:
        """The authenticated user, or None; resolved once per request."""
        async with self._user_lock:
            if not self._user_loaded:
                if self.token:
                    self._user = await self.auth.user_from_access_token(self.token)
                self._user_loaded = True
        return self._user
