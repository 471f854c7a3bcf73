"""The one refusal collections raise at its doors: a code and a Spanish message."""

from __future__ import annotations

__all__ = ["CollectionRefused"]


class CollectionRefused(Exception):
    """A request collections will not carry out; ``code``/``message`` are safe to show."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
