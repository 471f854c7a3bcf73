"""GraphQL doors onto sessions: MFA enrolment, password change and logout.

An enrolment-scoped token (staff who have not enrolled TOTP yet) opens exactly
``startMfaEnrolment``, ``confirmMfaEnrolment`` and ``logout``; every other field asks
``authorized_user`` through ``permissions.IsAuthenticated`` and refuses it.
"""

from __future__ import annotations

from typing import Annotated

import segno
import strawberry
from strawberry.types import Info

from puente.accounts.service import AuthFailure
from puente.accounts.service import AuthTokens as Tokens
from puente.graphql.context import GraphQLContext
from puente.graphql.permissions import HasSession, IsAuthenticated, MayEnrolMfa, allow
from puente.graphql.types import AuthError, AuthTokens, LoginResult, TokenScope

__all__ = ["MfaEnrolmentResult", "MfaEnrolmentStarted", "SessionMutations", "login_result"]

PuenteInfo = Info[GraphQLContext, None]

NOT_ENROLLING = AuthError(
    code="MFA_ENROLMENT_NOT_AVAILABLE",
    message="Inicia sesión con tu contraseña para activar la verificación en dos pasos.",
)
UNAUTHENTICATED = AuthError(code="UNAUTHENTICATED", message="Inicia sesión primero.")


def login_result(outcome: Tokens | AuthFailure) -> AuthTokens | AuthError:
    """The API shape of a service answer that opens a session or says why not."""
    if isinstance(outcome, AuthFailure):
        return AuthError(code=outcome.code, message=outcome.message)
    return AuthTokens(
        access_token=outcome.access_token,
        refresh_token=outcome.refresh_token,
        expires_in=outcome.expires_in,
        scope=TokenScope(outcome.scope),
    )


@strawberry.type
class MfaEnrolmentStarted:
    secret: str = strawberry.field(description="Base32 TOTP secret, for typing by hand.")
    otpauth_uri: str = strawberry.field(description="otpauth:// URI an authenticator scans.")
    qr_code_svg: str = strawberry.field(description="The URI as an SVG QR code (data: URI).")


MfaEnrolmentResult = Annotated[
    MfaEnrolmentStarted | AuthError, strawberry.union("MfaEnrolmentResult")
]


def qr_data_uri(uri: str) -> str:
    """The otpauth URI as an SVG QR code in a data: URI (the portal's CSP allows data: images)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5)


@strawberry.type
class SessionMutations:
    @strawberry.mutation(
        description="Start TOTP enrolment: a secret and its QR code.",
        extensions=allow(MayEnrolMfa(answer=NOT_ENROLLING)),
    )
    async def start_mfa_enrolment(self, info: PuenteInfo) -> MfaEnrolmentResult:
        ctx = info.context
        user = await ctx.enrolling_user()
        if user is None:  # on a WebSocket the session is checked again per call
            return NOT_ENROLLING
        enrolment = await ctx.auth.start_mfa_enrolment(user)
        return MfaEnrolmentStarted(
            secret=enrolment.secret,
            otpauth_uri=enrolment.uri,
            qr_code_svg=qr_data_uri(enrolment.uri),
        )

    @strawberry.mutation(
        description="Confirm enrolment with a code from the app: full tokens; older ones end.",
        extensions=allow(MayEnrolMfa(answer=NOT_ENROLLING)),
    )
    async def confirm_mfa_enrolment(self, info: PuenteInfo, code: str) -> LoginResult:
        ctx = info.context
        user = await ctx.enrolling_user()
        if user is None:  # on a WebSocket the session is checked again per call
            return NOT_ENROLLING
        tokens = await ctx.auth.confirm_mfa_enrolment(user, code)
        if tokens is None:
            return AuthError(
                code="INVALID_OTP",
                message="El código no coincide. Revisa la hora de tu teléfono e intenta de nuevo.",
            )
        return login_result(tokens)

    @strawberry.mutation(
        description="Change the password: every session ends and a new one is returned.",
        extensions=allow(IsAuthenticated(answer=UNAUTHENTICATED)),
    )
    async def change_password(
        self, info: PuenteInfo, current_password: str, new_password: str
    ) -> LoginResult:
        ctx = info.context
        await ctx.acting_user()
        session = await ctx.acting_session()
        return login_result(await ctx.auth.change_password(session, current_password, new_password))

    @strawberry.mutation(
        description="End this session: its access and refresh tokens stop working.",
        extensions=allow(HasSession(answer=False)),
    )
    async def logout(self, info: PuenteInfo) -> bool:
        session = await info.context.acting_session()
        await info.context.auth.end_session(session.family_id)
        return True
