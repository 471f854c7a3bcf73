"""Which bank movement a parsed line is, so a repeated line is stored once (pure).

The key is what identifies the movement at the bank, never where it sits in a file: the
bank's own reference when it gives one, else the clave de rastreo and date, else the
movement's fields plus how many identical movements came before it in the same file (two
equal transfers on one day are two movements; the same file or an overlapping statement
numbers them the same way, so they dedupe against themselves).
"""

from __future__ import annotations

import hashlib
from collections import Counter

from puente.money import to_centavos
from puente.reconciliation.importers.base import ParsedLine

__all__ = ["DedupKeys"]

# References banks write when they have none.
_NO_REFERENCE = {"", "NONREF", "NOTPROVIDED", "NONE", "N/A"}


class DedupKeys:
    """Keys for the lines of one file, in order."""

    def __init__(self) -> None:
        self._seen: Counter[str] = Counter()

    def key(self, line: ParsedLine) -> str:
        money = f"{line.account}|{line.direction.value}|{to_centavos(line.amount)}"
        if line.bank_reference.upper() not in _NO_REFERENCE:
            ident = f"bank|{line.bank_reference}"
        elif line.clave_rastreo.upper() not in _NO_REFERENCE:
            ident = f"rastreo|{line.clave_rastreo}|{line.match_date}"
        else:
            fields = f"{line.booking_date}|{line.value_date}|{line.reference}|{line.concept}"
            self._seen[fields + money] += 1
            ident = f"fields|{fields}|{self._seen[fields + money]}"
        return hashlib.sha256(f"{money}|{ident}".encode()).hexdigest()
