"""Bank CSV exports read through presets: a preset is data (a JSON file), not code.

A preset names the columns of one bank's layout (see presets/*.json and
../shared/reference/mexico.md §7.3, whose layouts are UNCONFIRMED: hence data, easy to fix).
A user adds a bank by writing one JSON file and importing with ``--format csv:/path/x.json``.

    {"name": "BBVA", "encoding": "latin-1", "delimiter": ",",
     "starts_after": null,                      # a preamble line after which the header comes
     "columns": {"booking_date": "FECHA", "concept": "DESCRIPCIÓN",
                 "debit": "CARGO", "credit": "ABONO"},   # or "amount" (+ "sign")
     "date_formats": ["%d/%m/%Y"],
     "sign": {"column": "Cargo/Abono", "credit": ["+"], "debit": ["-"]},   # optional
     "extract_from_concept": true}              # referencia / clave de rastreo in the text
"""

from __future__ import annotations

import csv
import json
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from puente.reconciliation.importers.base import (
    MalformedStatement,
    ParsedLine,
    UnknownFormat,
    parse_statement_amount,
    rastreo_in,
    referencia_in,
)
from puente.reconciliation.importers.direction import Direction

__all__ = ["CsvPreset", "builtin_presets", "header_key", "load_preset", "read_csv"]

# ParsedLine fields a column may fill (besides dates and amounts).
_TEXT_FIELDS = (
    "account",
    "clave_rastreo",
    "reference",
    "bank_reference",
    "counterparty_name",
    "counterparty_account",
    "beneficiary_account",
    "concept",
)


@dataclass(frozen=True)
class CsvPreset:
    """One bank's CSV layout."""

    name: str
    columns: dict[str, str]
    date_formats: tuple[str, ...]
    encoding: str = "latin-1"
    delimiter: str = ","
    starts_after: str | None = None
    sign: dict[str, Any] = field(default_factory=dict)
    extract_from_concept: bool = True

    @classmethod
    def from_json(cls, data: dict[str, Any], origin: str) -> CsvPreset:
        try:
            preset = cls(
                name=str(data["name"]),
                columns={str(k): str(v) for k, v in dict(data["columns"]).items()},
                date_formats=tuple(str(f) for f in data["date_formats"]),
                encoding=str(data.get("encoding", "latin-1")),
                delimiter=str(data.get("delimiter", ",")),
                starts_after=data.get("starts_after"),
                sign=dict(data.get("sign") or {}),
                extract_from_concept=bool(data.get("extract_from_concept", True)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnknownFormat(f"preset {origin} inválido: falta o sobra {exc}") from None
        has_split = "debit" in preset.columns and "credit" in preset.columns
        if not has_split and "amount" not in preset.columns:
            raise UnknownFormat(f"preset {origin}: nombre columnas debit+credit o amount")
        if "booking_date" not in preset.columns and "value_date" not in preset.columns:
            raise UnknownFormat(f"preset {origin}: nombre una columna de fecha")
        return preset


def builtin_presets() -> list[str]:
    """Names of the presets shipped with Puente."""
    folder = resources.files("puente.reconciliation.importers") / "presets"
    return sorted(
        p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")
    )


def load_preset(name: str) -> CsvPreset:
    """A shipped preset by name (``bbva``), or a preset file by path (``/x/mibanco.json``)."""
    if name.endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise UnknownFormat(f"no existe el preset {name}")
        return CsvPreset.from_json(json.loads(path.read_text("utf-8")), name)
    if name not in builtin_presets():
        known = ", ".join(builtin_presets())
        raise UnknownFormat(f"preset CSV desconocido {name!r}; disponibles: {known}")
    folder = resources.files("puente.reconciliation.importers") / "presets"
    return CsvPreset.from_json(json.loads((folder / f"{name}.json").read_text("utf-8")), name)


def header_key(text: str) -> str:
    """Header names compared without case, accents or surrounding spaces."""
    stripped = unicodedata.normalize("NFKD", text.strip().lstrip("\ufeff"))
    return "".join(c for c in stripped if not unicodedata.combining(c)).casefold()


def _date(text: str, formats: tuple[str, ...], where: str) -> date | None:
    cleaned = text.strip().lstrip("'")
    if not cleaned:
        return None
    for fmt in formats:
        try:
            return datetime.strptime(cleaned, fmt).date()
        except ValueError:
            continue
    raise MalformedStatement(where, f"fecha inválida {text.strip()!r}")


def _money(row: dict[str, str], preset: CsvPreset, where: str) -> tuple[Direction, Decimal] | None:
    cols = preset.columns
    if "debit" in cols and "credit" in cols:
        credit = row.get(cols["credit"], "").strip()
        debit = row.get(cols["debit"], "").strip()
        if credit and parse_statement_amount(credit, f"{where}, {cols['credit']}") != 0:
            return Direction.CREDIT, abs(parse_statement_amount(credit, where))
        if debit and parse_statement_amount(debit, f"{where}, {cols['debit']}") != 0:
            return Direction.DEBIT, abs(parse_statement_amount(debit, where))
        return None
    raw = row.get(cols["amount"], "").strip()
    if not raw:
        raise MalformedStatement(f"{where}, {cols['amount']}", "falta el importe")
    amount = parse_statement_amount(raw, f"{where}, {cols['amount']}")
    if preset.sign:
        mark = row.get(str(preset.sign["column"]), "").strip().casefold()
        if mark in [str(s).casefold() for s in preset.sign.get("credit", [])]:
            return Direction.CREDIT, abs(amount)
        if mark in [str(s).casefold() for s in preset.sign.get("debit", [])]:
            return Direction.DEBIT, abs(amount)
        raise MalformedStatement(f"{where}, {preset.sign['column']}", f"signo inválido {mark!r}")
    if amount == 0:
        return None
    return (Direction.CREDIT if amount > 0 else Direction.DEBIT), abs(amount)


def _parsed(
    row: dict[str, str], preset: CsvPreset, line_no: int, account: str
) -> ParsedLine | None:
    where = f"línea {line_no}"
    money = _money(row, preset, where)
    if money is None:
        return None  # a row that moves nothing (a balance line)
    cols = preset.columns
    text = {f: row.get(cols[f], "").strip() for f in _TEXT_FIELDS if f in cols}
    concept = text.get("concept", "")
    if preset.extract_from_concept:
        text["reference"] = text.get("reference") or referencia_in(concept)
        text["clave_rastreo"] = text.get("clave_rastreo") or rastreo_in(concept)
    booking = _date(row.get(cols.get("booking_date", ""), ""), preset.date_formats, where)
    value = _date(row.get(cols.get("value_date", ""), ""), preset.date_formats, where)
    if booking is None and value is None:
        raise MalformedStatement(where, "falta la fecha")
    return ParsedLine(
        position=line_no,
        account=account or text.get("account", ""),
        direction=money[0],
        amount=money[1],
        booking_date=booking,
        value_date=value,
        clave_rastreo=text.get("clave_rastreo", "")[:40],
        reference=text.get("reference", "")[:40],
        bank_reference=text.get("bank_reference", "")[:80],
        counterparty_name=text.get("counterparty_name", "")[:140],
        counterparty_account=text.get("counterparty_account", "")[:40],
        beneficiary_account=text.get("beneficiary_account", "")[:40],
        concept=concept[:300],
    )


def _rows(handle: Any, preset: CsvPreset) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(handle, delimiter=preset.delimiter)
    for fields_ in reader:
        yield reader.line_num, fields_


def read_csv(path: Path, preset: CsvPreset, *, account: str = "") -> Iterator[ParsedLine]:
    """Every movement of a bank CSV export laid out as ``preset`` says."""
    names = {*preset.columns.values(), *([str(preset.sign["column"])] if preset.sign else [])}
    with path.open(encoding=preset.encoding, newline="") as handle:
        rows = _rows(handle, preset)
        if preset.starts_after:
            marker = header_key(preset.starts_after)
            if not any(marker in header_key(" ".join(r)) for _, r in rows):
                raise MalformedStatement("archivo", f"no aparece {preset.starts_after!r}")
        header: list[str] | None = None
        where: dict[str, int] = {}  # preset column name -> its index in the file
        for line_no, values in rows:
            if not any(v.strip() for v in values):
                continue
            if header is None:
                header = [header_key(v) for v in values]
                missing = sorted(n for n in names if header_key(n) not in header)
                if missing:
                    raise MalformedStatement(
                        f"línea {line_no}",
                        f"encabezado sin las columnas del preset {preset.name}: {missing}",
                    )
                where = {n: header.index(header_key(n)) for n in names}
                continue
            if len(values) != len(header):
                raise MalformedStatement(
                    f"línea {line_no}", f"{len(values)} columnas, se esperaban {len(header)}"
                )
            row = {name: values[index] for name, index in where.items()}
            parsed = _parsed(row, preset, line_no, account)
            if parsed is not None:
                yield parsed
        if header is None:
            raise MalformedStatement("archivo", "no se encontró el encabezado")
