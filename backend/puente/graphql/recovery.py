"""Password recovery over GraphQL: ask for an emailed link, then spend its token."""

from __future__ import annotations

from typing import Annotated

import strawberry

from puente.accounts.password_reset import reset_password
from puente.graphql.context import GraphQLContext
from puente.graphql.permissions import AllowAnyone, allow
from puente.graphql.types import AuthError
from puente.notifications.account_notices import send_password_reset

__all__ = ["PasswordReset", "RecoveryMutations"]

PuenteInfo = strawberry.Info[GraphQLContext, None]


@strawberry.type
class PasswordReset:
    """The password was changed and every session ended: log in with the new one."""

    ok: bool = True


ResetPasswordResult = Annotated[PasswordReset | AuthError, strawberry.union("ResetPasswordResult")]


@strawberry.type
class RecoveryMutations:
    @strawberry.mutation(
        description="Email a single-use reset link if the account exists. Always true: the "
        "answer never says whether an email is registered.",
        extensions=allow(AllowAnyone()),
    )
    async def request_password_reset(self, info: PuenteInfo, email: str) -> bool:
        await send_password_reset(info.context.runtime, email[:254])
        return True

    @strawberry.mutation(
        description="Set a new password with the token from the emailed link (once, before it "
        "expires). AuthError codes: INVALID_RESET_LINK, WEAK_PASSWORD.",
        extensions=allow(AllowAnyone()),
    )
    async def reset_password(
        self, info: PuenteInfo, token: str, new_password: str
    ) -> ResetPasswordResult:
        failure = await reset_password(info.context.runtime, token, new_password)
        if failure is not None:
            return AuthError(code=failure.code, message=failure.message)
        return PasswordReset()
