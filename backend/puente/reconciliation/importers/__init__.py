"""Statement readers: each streams a file and yields ``ParsedLine`` values (no database).

``read_statement(path, fmt)`` picks the reader for a format name (``camt053``, ``mt940``,
``stp``, ``csv:<preset>``); a file that does not read cleanly raises ``MalformedStatement``
naming the line or element, and the caller imports nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from puente.reconciliation.importers.base import (
    MalformedStatement,
    ParsedLine,
    UnknownFormat,
    guess_format,
)

__all__ = [
    "FORMATS",
    "MalformedStatement",
    "ParsedLine",
    "UnknownFormat",
    "guess_format",
    "read_statement",
]

FORMATS = ("camt053", "mt940", "stp", "csv:<preset>")


def read_statement(path: Path, fmt: str, *, account: str = "") -> Iterator[ParsedLine]:
    """The lines of ``path`` read as ``fmt``, one at a time (never the whole file in memory)."""
    if fmt == "camt053":
        from puente.reconciliation.importers.camt053 import read_camt053

        return read_camt053(path, account=account)
    if fmt == "mt940":
        from puente.reconciliation.importers.mt940 import read_mt940

        return read_mt940(path, account=account)
    if fmt == "stp":
        from puente.reconciliation.importers.stp import read_stp

        return read_stp(path, account=account)
    if fmt.startswith("csv:"):
        from puente.reconciliation.importers.csv_presets import load_preset, read_csv

        return read_csv(path, load_preset(fmt.removeprefix("csv:")), account=account)
    raise UnknownFormat(f"formato desconocido {fmt!r}: use camt053, mt940, stp o csv:<preset>")
