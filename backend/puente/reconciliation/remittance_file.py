"""An employer's payroll remittance file (descuento vía nómina), read through a layout.

The employer deducts each borrower's installment from their salary, makes one deposit, and
sends a file saying whose installments it carries. A layout is data (a JSON file in
``remittance_layouts/``, or any path), like the bank CSV presets: it names the columns.

    {"name": "Remesa de nómina", "encoding": "utf-8", "delimiter": ",",
     "columns": {"employer": "RFC_PATRON", "reference": "REFERENCIA",
                 "employee_id": "NUM_EMPLEADO", "curp": "CURP", "rfc": "RFC",
                 "name": "NOMBRE", "amount": "IMPORTE"}}

``amount`` is required, and each row names its borrower by at least one of employee id,
CURP or RFC. Every row carries the same employer and reference (the text the deposit's
concept shows). A file that breaks any of this is refused whole, naming the line.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from puente.reconciliation.importers.base import (
    MalformedStatement,
    UnknownFormat,
    parse_statement_amount,
)
from puente.reconciliation.importers.csv_presets import header_key

__all__ = [
    "RemittanceFile",
    "RemittanceLayout",
    "RemittanceRow",
    "builtin_layouts",
    "load_layout",
    "read_remittance",
]

_FIELDS = ("employer", "reference", "employee_id", "curp", "rfc", "name", "amount")
_MAX_ROWS = 100_000  # a payroll of more people than this is not one file


@dataclass(frozen=True)
class RemittanceLayout:
    """One employer's file layout."""

    name: str
    columns: dict[str, str]
    encoding: str = "utf-8"
    delimiter: str = ","

    @classmethod
    def from_json(cls, data: dict[str, Any], origin: str) -> RemittanceLayout:
        try:
            columns = {str(k): str(v) for k, v in dict(data["columns"]).items()}
            layout = cls(
                name=str(data["name"]),
                columns=columns,
                encoding=str(data.get("encoding", "utf-8")),
                delimiter=str(data.get("delimiter", ",")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise UnknownFormat(f"layout {origin} inválido: {exc}") from None
        unknown = sorted(set(columns) - set(_FIELDS))
        if unknown or "amount" not in columns:
            raise UnknownFormat(
                f"layout {origin}: columnas {unknown} desconocidas o falta 'amount'"
            )
        if not {"employee_id", "curp", "rfc"} & set(columns):
            raise UnknownFormat(f"layout {origin}: nombre empleado, CURP o RFC")
        return layout


@dataclass(frozen=True, slots=True)
class RemittanceRow:
    """One borrower's share: who (as the employer names them) and how much."""

    position: int  # line number in the file
    employee_id: str
    curp: str
    rfc: str
    name: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class RemittanceFile:
    employer: str
    reference: str
    rows: tuple[RemittanceRow, ...]

    @property
    def total(self) -> Decimal:
        return sum((row.amount for row in self.rows), Decimal("0.00"))


def _folder() -> Any:
    return resources.files("puente.reconciliation") / "remittance_layouts"


def builtin_layouts() -> list[str]:
    """Names of the layouts shipped with Puente."""
    return sorted(
        p.name.removesuffix(".json") for p in _folder().iterdir() if p.name.endswith(".json")
    )


def load_layout(name: str) -> RemittanceLayout:
    """A shipped layout by name (``nomina``), or a layout file by path."""
    if name.endswith(".json"):
        path = Path(name)
        if not path.is_file():
            raise UnknownFormat(f"no existe el layout {name}")
        return RemittanceLayout.from_json(json.loads(path.read_text("utf-8")), name)
    if name not in builtin_layouts():
        known = ", ".join(builtin_layouts())
        raise UnknownFormat(f"layout de remesa desconocido {name!r}; disponibles: {known}")
    text = (_folder() / f"{name}.json").read_text("utf-8")
    return RemittanceLayout.from_json(json.loads(text), name)


def _row(values: dict[str, str], where: str) -> RemittanceRow:
    amount = parse_statement_amount(values.get("amount", ""), where)
    if amount <= 0:
        raise MalformedStatement(where, f"importe no positivo {values.get('amount', '')!r}")
    employee_id = values.get("employee_id", "").strip()
    curp = values.get("curp", "").strip().upper()
    rfc = values.get("rfc", "").strip().upper()
    if not (employee_id or curp or rfc):
        raise MalformedStatement(where, "el renglón no dice de quién es (empleado, CURP o RFC)")
    return RemittanceRow(
        position=int(where.removeprefix("línea ")),
        employee_id=employee_id[:40],
        curp=curp,
        rfc=rfc,
        name=values.get("name", "").strip()[:140],
        amount=amount,
    )


def read_remittance(path: Path, layout: RemittanceLayout) -> RemittanceFile:
    """The whole file, or ``MalformedStatement`` naming the line that breaks it."""
    header: dict[str, int] | None = None
    rows: list[RemittanceRow] = []
    employer = reference = None
    try:
        with path.open(encoding=layout.encoding, newline="") as handle:
            reader = csv.reader(handle, delimiter=layout.delimiter)
            for values in reader:
                where = f"línea {reader.line_num}"
                if not any(v.strip() for v in values):
                    continue
                if header is None:
                    found = [header_key(v) for v in values]
                    missing = sorted(
                        c for c in layout.columns.values() if header_key(c) not in found
                    )
                    if missing:
                        raise MalformedStatement(where, f"encabezado sin las columnas {missing}")
                    header = {f: found.index(header_key(c)) for f, c in layout.columns.items()}
                    width = len(values)
                    continue
                if len(values) != width:
                    raise MalformedStatement(where, f"{len(values)} columnas, se esperaban {width}")
                named = {f: values[i] for f, i in header.items()}
                row_employer = named.get("employer", "").strip().upper()
                row_reference = named.get("reference", "").strip()
                if employer is None:
                    employer, reference = row_employer, row_reference
                elif (row_employer, row_reference) != (employer, reference):
                    raise MalformedStatement(
                        where, "otro patrón u otra referencia en la misma remesa"
                    )
                rows.append(_row(named, where))
                if len(rows) > _MAX_ROWS:
                    raise MalformedStatement(where, f"más de {_MAX_ROWS} renglones")
    except UnicodeDecodeError:
        raise MalformedStatement("archivo", f"no está en {layout.encoding}") from None
    if not rows:
        raise MalformedStatement("archivo", "la remesa no tiene renglones")
    return RemittanceFile(employer or "", reference or "", tuple(rows))
