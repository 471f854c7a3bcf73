"""What /graphql tells a stranger: no schema tour, and no document in the logs.

* Introspection is refused and "Did you mean …?" hints are cut from error messages unless
  ``Settings.introspection_enabled`` (the demo, or ``PUENTE_GRAPHQL_INTROSPECTION=1``):
  together they would hand the whole schema to anyone who asks.
* :class:`PuenteSchema` logs a failed request without its document, variables or error
  messages: those echo what the client sent (an inline password, a card token). A client
  mistake (syntax, validation, a refused value) is logged at DEBUG as its kind only; an
  unexpected failure in our code at ERROR, with the exception's type and traceback.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterator

import strawberry
from strawberry.extensions import MaskErrors, SchemaExtension
from strawberry.types import ExecutionContext

from graphql import GraphQLError
from puente.graphql.errors import UserFacingError

__all__ = ["HideSuggestions", "MaskErrorsWhenAny", "PuenteSchema", "without_suggestions"]

logger = logging.getLogger("puente.graphql")

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?", re.DOTALL)


def without_suggestions(message: str) -> str:
    """``message`` without graphql-core's "Did you mean 'x'?" hints."""
    return _SUGGESTION.sub("", message)


class HideSuggestions(SchemaExtension):
    """Cuts field, argument, type and enum suggestions from every error of a request."""

    def on_operation(self) -> Iterator[None]:
        yield
        context = self.execution_context
        errors = [*(context.pre_execution_errors or [])]
        if context.result is not None and context.result.errors:
            errors.extend(context.result.errors)
        for error in errors:
            error.message = without_suggestions(error.message)


def _kind(error: GraphQLError) -> str:
    original = error.original_error
    if original is None:
        return "invalid request (syntax, validation or limits)"
    if isinstance(original, UserFacingError):
        return f"refusal {original.code}"
    return type(original).__name__


class MaskErrorsWhenAny(MaskErrors):
    """strawberry's ``MaskErrors``, skipping results without errors before its check.

    Its check is an ``isinstance`` against a runtime-checkable ``Protocol``, tens of
    microseconds a result: once per subscriber and event, that alone was a fifth of a
    1,000-subscriber event (issue 15 #5). A result without errors has nothing to mask.
    """

    def _process_result(self, result: object) -> None:
        if getattr(result, "errors", None):
            super()._process_result(result)


class PuenteSchema(strawberry.Schema):
    """The strawberry schema, logging errors without what the client sent."""

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        operation = getattr(execution_context, "operation_name", None) or "-"
        for error in errors:
            original = error.original_error
            path = ".".join(str(p) for p in error.path or ()) or "-"
            if original is None or isinstance(original, UserFacingError):
                logger.debug("graphql %s: %s at %s", operation, _kind(error), path)
                continue
            # Our bug, not the client's: the frames are what an operator needs. The
            # exception's own text is left out (it may quote a value the client sent).
            frames = "".join(traceback.format_tb(original.__traceback__))
            logger.error(
                "graphql %s: unexpected %s at %s\n%s",
                operation,
                type(original).__name__,
                path,
                frames,
            )
