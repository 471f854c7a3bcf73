"""Counting the SQL statements a block of code sends (any backend).

Tortoise's clients log every statement they send at DEBUG on ``tortoise.db_client``, on
SQLite and PostgreSQL alike: a handler on that logger counts them without touching the
connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["StatementLog", "count_statements"]


class StatementLog(logging.Handler):
    """The statements logged while installed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(str(record.args[0]) if record.args else record.getMessage())

    def __len__(self) -> int:
        return len(self.statements)


@contextmanager
def count_statements() -> Iterator[StatementLog]:
    """``with count_statements() as log: …`` then ``len(log)``."""
    logger = logging.getLogger("tortoise.db_client")
    log = StatementLog()
    level = logger.level
    logger.addHandler(log)
    logger.setLevel(logging.DEBUG)
    try:
        yield log
    finally:
        logger.removeHandler(log)
        logger.setLevel(level)
