"""SWIFT MT940 through the ``mt-940`` library, fed in batches so a long file streams.

The file is read line by line; each ``:61:`` (with its ``:86:``) is one movement. Movements
are handed to the library a few hundred at a time, under the statement's ``:20:``/``:25:``
header, so memory stays flat. A tag the format does not have, or a ``:61:`` the library
cannot read, is ``MalformedStatement`` naming its line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import mt940 as mt940_lib

from puente.reconciliation.importers.base import (
    MalformedStatement,
    ParsedLine,
    rastreo_in,
    referencia_in,
)
from puente.reconciliation.importers.direction import Direction

__all__ = ["read_mt940"]

_TAG = re.compile(r"^:(?P<tag>[0-9]{2}[A-Z]?|NS):")
_KNOWN_TAGS = {
    "20", "21", "25", "28", "28C", "60F", "60M", "61", "62F", "62M",
    "64", "65", "86", "13D", "34F", "90C", "90D", "NS",
}  # fmt: skip
_BATCH = 500
# :61: marks: RC is the reversal of a credit (money out), RD of a debit (money in).
_DIRECTION = {
    "C": Direction.CREDIT,
    "D": Direction.DEBIT,
    "RC": Direction.DEBIT,
    "RD": Direction.CREDIT,
}


@dataclass
class _Movement:
    line_no: int
    text: list[str] = field(default_factory=list)


@dataclass
class _Header:
    reference: str = "NONREF"
    account: str = ""


def _parse(header: _Header, movements: list[_Movement]) -> list[dict[str, Any]]:
    document = f":20:{header.reference}\n:25:{header.account}\n" + "\n".join(
        "\n".join(m.text) for m in movements
    )
    parser = mt940_lib.models.Transactions(options=mt940_lib.Options.all())
    parsed = [transaction.data for transaction in parser.parse(document)]
    # Transactions and their collection point at each other; breaking the cycle frees a
    # batch as soon as it is read instead of whenever the garbage collector runs.
    parser.transactions.clear()
    if len(parsed) != len(movements):
        raise ValueError("movements and parsed transactions differ")
    return parsed


def _batch(header: _Header, movements: list[_Movement]) -> list[dict[str, Any]]:
    try:
        return _parse(header, movements)
    except Exception:
        # Find which movement the library refused, to name its line.
        for movement in movements:
            try:
                _parse(header, [movement])
            except Exception:
                raise MalformedStatement(
                    f"línea {movement.line_no}", "campo :61: ilegible (MT940)"
                ) from None
        raise


def _plain(value: Any) -> date | None:
    """mt-940 returns its own ``Date`` subclass; the database wants a plain date."""
    return date(value.year, value.month, value.day) if value is not None else None


def _line(data: dict[str, Any], movement: _Movement, header: _Header, account: str) -> ParsedLine:
    mark = str(data.get("status") or "")
    if mark not in _DIRECTION or data.get("amount") is None:
        raise MalformedStatement(f"línea {movement.line_no}", f"marca C/D inválida {mark!r}")
    amount = abs(data["amount"].amount)
    if amount == 0 or amount != amount.quantize(amount.__class__("0.01")):
        raise MalformedStatement(f"línea {movement.line_no}", f"importe inválido {amount}")
    details = str(data.get("transaction_details") or "").replace("\n", " ").strip()
    extra = str(data.get("extra_details") or "").strip()
    concept = " ".join(filter(None, [details, extra]))
    customer_ref = str(data.get("customer_reference") or "")
    bank_ref = str(data.get("bank_reference") or "")
    reference = customer_ref if customer_ref.isdigit() and len(customer_ref) <= 7 else ""
    return ParsedLine(
        position=movement.line_no,
        account=account or header.account,
        direction=_DIRECTION[mark],
        amount=amount.quantize(amount.__class__("0.01")),
        currency=str(data.get("currency") or "MXN"),
        booking_date=_plain(data.get("entry_date")),
        value_date=_plain(data.get("date")),
        clave_rastreo=rastreo_in(concept) or bank_ref[:40],
        reference=reference or referencia_in(concept),
        bank_reference=bank_ref[:80],
        concept=concept[:300],
        statement_ref=header.reference,
    )


def _flush(header: _Header, movements: list[_Movement], account: str) -> Iterator[ParsedLine]:
    for transaction, movement in zip(_batch(header, movements), movements, strict=True):
        yield _line(transaction, movement, header, account)
    movements.clear()


def read_mt940(path: Path, *, account: str = "") -> Iterator[ParsedLine]:
    """Every ``:61:`` movement of every statement in the file, in file order."""
    header = _Header()
    movements: list[_Movement] = []
    current: _Movement | None = None  # the movement continuation lines belong to
    seen_tag = False
    with path.open(encoding="latin-1", newline="") as handle:
        for line_no, raw in enumerate(handle, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip() or line.startswith(("{", "-}", "}")) or line.strip() == "-":
                continue
            tag = _TAG.match(line)
            if tag is None:
                if not seen_tag:
                    raise MalformedStatement(f"línea {line_no}", "se esperaba una etiqueta :20:")
                if current is not None:
                    current.text.append(line)
                continue
            seen_tag = True
            name = tag.group("tag")
            if name not in _KNOWN_TAGS:
                raise MalformedStatement(f"línea {line_no}", f"etiqueta MT940 desconocida :{name}:")
            value = line[tag.end() :].strip()
            if name == "20":
                yield from _flush(header, movements, account)
                header = _Header(reference=value or "NONREF", account=header.account)
                current = None
            elif name == "25":
                yield from _flush(header, movements, account)
                header = _Header(reference=header.reference, account=value)
                current = None
            elif name == "61":
                current = _Movement(line_no, [line])
                movements.append(current)
                if len(movements) >= _BATCH:
                    # The last one may still get its :86:; keep it for the next batch.
                    last = movements.pop()
                    yield from _flush(header, movements, account)
                    movements.append(last)
            elif name == "86" and current is not None:
                current.text.append(line)
            else:
                current = None  # balances and the like: statement data, not a movement
    if not seen_tag:
        raise MalformedStatement("línea 1", "el archivo no contiene etiquetas MT940")
    yield from _flush(header, movements, account)
