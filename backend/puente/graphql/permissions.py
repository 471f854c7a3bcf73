"""Who may call each root field: strawberry permission classes over ``accounts.access``.

Every root field of the schema names one of these (``tests/graphql/test_graphql_staff_mfa.py``
fails on a field that names none):

- ``AllowAnyone``: login, refreshToken, the public simulateLoan;
- ``IsAuthenticated``: a session that may act (``accounts.access.authorized_user``: full
  scope, and not staff still owing MFA enrolment), for everything else;
- ``MayEnrolMfa``: the enrolment doors an enrolment-scoped session exists for
  (``accounts.access.enrolling_user``);
- ``HasSession``: any live session, whatever its scope (logout).

A refusal answers the way the field always has: a nullable field gives null, a result union
its error value (``answer``), a subscription a stream that ends with ``UNAUTHENTICATED``
(``refused_stream``), anything else raises ``UNAUTHENTICATED``. Role checks that
must answer like "not found" (refunds, payouts) stay in their services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info

from puente.graphql.context import LOG_IN_FIRST, GraphQLContext
from puente.graphql.errors import UserFacingError

__all__ = [
    "AllowAnyone",
    "HasSession",
    "IsAuthenticated",
    "MayEnrolMfa",
    "allow",
    "refused_stream",
]

_RAISE = object()  # no answer given: the refusal is an UNAUTHENTICATED error


class _Refusing(BasePermission):
    """A permission whose refusal is the field's own answer, or an UNAUTHENTICATED error."""

    message = LOG_IN_FIRST

    def __init__(self, *, answer: object = _RAISE) -> None:
        self.answer = answer

    def on_unauthorized(self) -> Any:
        # PermissionExtension returns what this returns as the field's value.
        if self.answer is _RAISE:
            raise UserFacingError("UNAUTHENTICATED", self.message or "")
        return self.answer() if callable(self.answer) else self.answer


class AllowAnyone(_Refusing):
    """Public: no session needed."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return True


class IsAuthenticated(_Refusing):
    """A session that may act: ``accounts.access.authorized_user``."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context: GraphQLContext = info.context
        return await context.user() is not None


class MayEnrolMfa(_Refusing):
    """A session that may enrol TOTP now: ``accounts.access.enrolling_user``."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context: GraphQLContext = info.context
        return await context.enrolling_user() is not None


class HasSession(_Refusing):
    """Any live session, of any scope."""

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        context: GraphQLContext = info.context
        return await context.session() is not None


def refused_stream() -> AsyncIterator[Any]:
    """A subscription's refusal: a stream whose first event is the UNAUTHENTICATED error.

    Raised before the stream exists, graphql-transport-ws would answer with an ``error``
    message; inside it, the client gets ``next`` with the error and then ``complete``, as
    subscriptions always have.
    """

    async def stream() -> AsyncIterator[Any]:
        raise UserFacingError("UNAUTHENTICATED", LOG_IN_FIRST)
        yield  # pragma: no cover - makes this an async generator

    return stream()


def allow(permission: _Refusing) -> list[FieldExtension]:
    """The field extension that applies ``permission`` (no schema directive: the SDL the
    clients see does not change)."""
    return [PermissionExtension(permissions=[permission], use_directives=False)]
