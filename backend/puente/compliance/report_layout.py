"""Report file layouts (pure): which columns, in which order, and how a file is written.

A report is UTF-8 text, one header line then one line per operation, fields separated by ``|``
(no field may contain one: it is replaced by a space). The columns an institution sends, and
their order, come from its policy (``relevant_report_columns``, ``unusual_report_columns``);
empty means every column below in this order. ``docs/compliance.md`` describes each column.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

__all__ = ["RELEVANT_COLUMNS", "UNUSUAL_COLUMNS", "LayoutError", "render_report"]

RELEVANT_COLUMNS: Final = (
    "folio",
    "periodo",
    "fecha_operacion",
    "monto_mxn",
    "tipo_cambio_fix",
    "monto_usd",
    "instrumento",
    "cliente",
    "nombre",
    "rfc",
    "curp",
    "credito",
    "pago",
)
UNUSUAL_COLUMNS: Final = (
    "folio",
    "caso",
    "tipo_reporte",
    "fecha_deteccion",
    "fecha_limite",
    "reglas",
    "pagos",
    "monto_total_mxn",
    "cliente",
    "nombre",
    "rfc",
    "curp",
    "ingreso_mensual_declarado",
    "riesgo",
    "descripcion",
)
SEPARATOR: Final = "|"


class LayoutError(ValueError):
    """A configured layout names a column that does not exist."""


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return " ".join(text.replace(SEPARATOR, " ").split())


def render_report(
    rows: Sequence[Mapping[str, object]], available: Sequence[str], chosen: Sequence[str] = ()
) -> str:
    """The report text: the chosen columns (all when empty) for every row."""
    columns = tuple(chosen) or tuple(available)
    unknown = [column for column in columns if column not in available]
    if unknown:
        raise LayoutError(f"columnas desconocidas: {', '.join(unknown)}")
    lines = [SEPARATOR.join(columns)]
    lines += [SEPARATOR.join(_cell(row.get(column)) for column in columns) for row in rows]
    return "\n".join(lines) + "\n"
