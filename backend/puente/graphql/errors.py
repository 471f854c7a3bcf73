"""Errors that are safe to show to API clients (everything else is masked)."""

from __future__ import annotations

from strawberry.exceptions import StrawberryInputCoercionError

from graphql import GraphQLError

__all__ = ["UserFacingError", "should_mask_error"]


class UserFacingError(Exception):
    """A refusal the client can act on: carries a stable ``code`` and a suggestion."""

    def __init__(self, code: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.extensions = {"code": code, **({"field": field} if field else {})}


def should_mask_error(error: GraphQLError) -> bool:
    """Mask unexpected failures; keep parse/validation errors and deliberate refusals."""
    original = error.original_error
    if original is None:
        return False  # syntax, validation, limiter messages: about the query, not our internals
    # A variable that cannot be read (a bad scalar, an unknown enum value, an Int out of
    # range) is refused by graphql-core or strawberry while coercing it: about the input.
    return not isinstance(original, UserFacingError | GraphQLError | StrawberryInputCoercionError)
