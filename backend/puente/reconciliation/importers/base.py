"""What every statement reader yields, and how a reader says a file is malformed."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from puente.reconciliation.importers.direction import Direction

__all__ = [
    "MalformedStatement",
    "ParsedLine",
    "UnknownFormat",
    "guess_format",
    "parse_statement_amount",
    "rastreo_in",
    "referencia_in",
]


class MalformedStatement(ValueError):
    """The file does not read as its format says; ``where`` names the line or element."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class UnknownFormat(ValueError):
    """A format or CSV preset nobody defined."""


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One movement as the bank reported it (amount always positive; direction says which way).

    ``value_date`` is when the money counts (fecha valor), ``booking_date`` when the bank
    recorded it (fecha de operación / contable); they differ and both are kept.
    """

    position: int  # line number, or entry number for XML
    account: str  # the institution's account the statement is about
    direction: Direction
    amount: Decimal
    currency: str = "MXN"
    booking_date: date | None = None
    value_date: date | None = None
    clave_rastreo: str = ""
    reference: str = ""  # referencia numérica (≤ 7 digits in SPEI)
    bank_reference: str = ""  # the bank's own id of the movement (AcctSvcrRef, //ref)
    end_to_end_id: str = ""
    counterparty_name: str = ""
    counterparty_account: str = ""
    beneficiary_account: str = ""  # for money in: the CLABE it was sent to (per-loan CLABE)
    concept: str = ""
    statement_ref: str = ""  # the statement the line came in (Stmt/Id, :20:)

    @property
    def match_date(self) -> date | None:
        """The date matching uses: the value date, else the booking date."""
        return self.value_date or self.booking_date


def parse_statement_amount(text: str, where: str, *, decimal_comma: bool = False) -> Decimal:
    """An exact amount of at most two decimals, or ``MalformedStatement`` at ``where``."""
    cleaned = text.strip().replace("$", "").replace(" ", "")
    if decimal_comma:
        cleaned = cleaned.replace(".", "").replace(",", ".")
    else:
        cleaned = cleaned.replace(",", "")
    try:
        amount = Decimal(cleaned)
    except InvalidOperation:
        raise MalformedStatement(where, f"importe inválido {text.strip()!r}") from None
    if not amount.is_finite():
        raise MalformedStatement(where, f"importe inválido {text.strip()!r}")
    if amount != amount.quantize(Decimal("0.01")):
        raise MalformedStatement(where, f"importe con fracciones de centavo {text.strip()!r}")
    return amount.quantize(Decimal("0.01"))


_REFERENCIA = re.compile(r"\bREF(?:ERENCIA)?(?:\s+NUM(?:[EÉ]RICA)?)?\.?\s*:?\s*(\d{1,7})\b", re.I)


def referencia_in(text: str) -> str:
    """A referencia numérica written in a concept ("REF 1234567", "Referencia Numérica: 12")."""
    found = _REFERENCIA.search(text)
    return found.group(1) if found else ""


_RASTREO = re.compile(
    r"(?:CVE\.?\s*RAST(?:REO)?|CLAVE\s+DE\s+RASTREO|RASTREO)\s*:?\s*([A-Z0-9]{6,30})\b", re.I
)


def rastreo_in(text: str) -> str:
    """A clave de rastreo written in a concept ("CVE RAST: BB27726020704")."""
    found = _RASTREO.search(text)
    return found.group(1).upper() if found else ""


def guess_format(path: Path) -> str:
    """The format a file looks like from its first bytes (CSV needs ``--format csv:PRESET``)."""
    with path.open("rb") as handle:
        head = handle.read(2048).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"<"):
        return "camt053"
    if head.startswith((b":20:", b"{1:", b":940:")):
        return "mt940"
    raise UnknownFormat("no se reconoce el formato: indique --format camt053|mt940|stp|csv:PRESET")
