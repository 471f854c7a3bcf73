"""Errors that are safe to show to API clients (everything else is masked)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension

from graphql import GraphQLError

__all__ = ["FieldErrors", "UserFacingError", "report_field_error", "should_mask_error"]


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


def report_field_error(info: Any, error: UserFacingError) -> None:
    """Report ``error`` on the field ``info`` resolves, which answers a harmless value (an
    empty connection) instead of raising: a non-null field that raised would null its parent
    (``viewer``) and every sibling with it. ``FieldErrors`` adds it to the response."""
    raw = getattr(info, "_raw_info", info)  # graphql-core's ResolveInfo under strawberry's
    info.context.field_errors.append(
        GraphQLError(
            str(error),
            nodes=raw.field_nodes,
            path=raw.path.as_list(),
            original_error=error,
            extensions=error.extensions,
        )
    )


class FieldErrors(SchemaExtension):
    """Adds the errors ``report_field_error`` collected to the response's ``errors``."""

    def on_execute(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        extra = getattr(self.execution_context.context, "field_errors", None)
        if result is not None and extra:
            result.errors = [*(result.errors or []), *extra]
